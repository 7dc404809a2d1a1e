import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createProviderClient,
  ProviderAuthError,
  ProviderRateLimitError,
  ProviderValidationError,
  UnknownStatusError,
  type ProviderClient,
} from '../../server/providers/index.js';
import {
  defaultJiraUsers,
  seedJiraIssues,
  seedJiraProjects,
  startFakeJiraDataCenter,
  type JiraFake,
} from '../fakes/jira-data-center.js';
import { defined, elapsedSince, expectNoSecretIn, failureOf, fastHttp } from './support.js';

const alice = defined(defaultJiraUsers[0], 'alice');

describe('Jira Data Center client (REST v2) against the fake', () => {
  let jira: JiraFake;
  let client: ProviderClient;

  beforeAll(async () => {
    jira = await startFakeJiraDataCenter({
      projects: [{ key: 'FIN', name: 'Finance' }, ...seedJiraProjects(6)],
      issues: [
        {
          projectKey: 'FIN',
          summary: 'Export times out',
          description: 'h2. Steps\n* run the export',
          status: 'In Progress',
          assignee: 'alice',
          comments: [{ author: 'bob', body: 'Seen it too.' }],
        },
        { projectKey: 'FIN', summary: 'SEPA payments', status: 'To Do', assignee: 'bob' },
        { projectKey: 'FIN', summary: 'Closed thing', status: 'Done', assignee: 'alice' },
        ...seedJiraIssues('P001', 5),
      ],
    });
    client = createProviderClient(
      { providerType: 'jira_server', baseUrl: jira.url, apiToken: alice.token },
      fastHttp,
    );
  });
  afterAll(async () => {
    expect(jira.recordedText()).not.toMatch(/mcp_/);
    await jira.stop();
  });
  beforeEach(() => {
    jira.setBehaviour({
      latencyMs: 0,
      rateLimitNext: null,
      alwaysUnavailable: false,
      deadToken: false,
    });
    jira.requests.length = 0;
  });

  it('checks credentials with the personal access token as Bearer', async () => {
    const account = await client.checkCredentials();
    expect(account).toEqual({ id: 'alice', displayName: 'Alice Example', email: alice.email });
    expect(jira.requests[0]?.path).toBe('/rest/api/2/myself');
    expect(jira.requests[0]?.headers.authorization).toBe(`Bearer ${alice.token}`);
  });

  it('pages the plain /project array itself, across more than two pages', async () => {
    const keys: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listProjects({ cursor, limit: 3 });
      expect(page.total).toBe(7);
      keys.push(...page.items.map((project) => project.key));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(keys).toEqual(['FIN', 'P001', 'P002', 'P003', 'P004', 'P005', 'P006']);
    // Data Center has no paged project search: every page reads the one array.
    expect(jira.requests.map((request) => request.path)).toEqual(
      Array(3).fill('/rest/api/2/project'),
    );
    expect(jira.requests.every((request) => Object.keys(request.query).length === 0)).toBe(true);
    const filtered = await client.listProjects({ query: 'finance', limit: 3 });
    expect(filtered.items.map((project) => project.key)).toEqual(['FIN']);
  });

  it('searches with /search and startAt / total', async () => {
    const first = await client.searchIssues({ projectKey: 'P001', limit: 2 });
    expect(first.total).toBe(5);
    const second = await client.searchIssues({
      projectKey: 'P001',
      limit: 2,
      cursor: first.nextCursor ?? '',
    });
    const third = await client.searchIssues({
      projectKey: 'P001',
      limit: 2,
      cursor: second.nextCursor ?? '',
    });
    expect(third.nextCursor).toBeNull();
    expect(
      new Set([...first.items, ...second.items, ...third.items].map((issue) => issue.key)).size,
    ).toBe(5);
    const searches = jira.requests.filter((request) => request.path === '/rest/api/2/search');
    expect(searches.map((request) => request.query.startAt)).toEqual(['0', '2', '4']);
    // Data Center does not need a bounded query.
    await client.searchIssues({ limit: 5 });
    expect(jira.requests.at(-1)?.query.jql).toBe('ORDER BY updated DESC');
  });

  it('searches by status and by assignee name', async () => {
    const open = await client.searchIssues({ projectKey: 'FIN', status: 'open', limit: 10 });
    expect(open.items.map((issue) => issue.title).sort()).toEqual([
      'Export times out',
      'SEPA payments',
    ]);
    const bobs = await client.searchIssues({ assignee: 'bob', limit: 10 });
    expect(bobs.items.map((issue) => issue.title)).toEqual(['SEPA payments']);
    expect(
      jira.requests.find((request) => request.path === '/rest/api/2/user/search')?.query.username,
    ).toBe('bob');
    expect(jira.requests.at(-1)?.query.jql).toContain('assignee = "bob"');
  });

  it('lists my open issues', async () => {
    const page = await client.listMyIssues({ limit: 10 });
    expect(page.items.map((issue) => issue.title)).toEqual(['Export times out']);
  });

  it('gets an issue with its plain-text description and comments', async () => {
    const issue = await client.getIssue('FIN-1');
    expect(issue.description).toBe('h2. Steps\n* run the export');
    expect(issue.comments).toEqual([
      expect.objectContaining({
        body: 'Seen it too.',
        author: { id: 'bob', displayName: 'Bob Builder' },
      }),
    ]);
    expect(issue.url).toBe(`${jira.url}/browse/FIN-1`);
  });

  it('creates an issue: the description reaches Jira as a string, the assignee by name', async () => {
    const created = await client.createIssue({
      projectKey: 'FIN',
      title: 'Reconcile ledgers',
      description: 'Compare **both** ledgers',
      assignee: 'me',
    });
    expect(created).toMatchObject({
      title: 'Reconcile ledgers',
      description: 'Compare **both** ledgers',
      type: 'Task',
    });
    const post = jira.requests.find(
      (request) => request.method === 'POST' && request.path === '/rest/api/2/issue',
    );
    const fields = (post?.body as { fields: Record<string, unknown> }).fields;
    expect(fields.description).toBe('Compare **both** ledgers');
    expect(fields.assignee).toEqual({ name: 'alice' });
  });

  it('updates an issue with string bodies', async () => {
    const updated = await client.updateIssue('FIN-2', {
      description: 'New text',
      assignee: 'alice',
    });
    expect(updated.description).toBe('New text');
    const put = jira.requests.find((request) => request.method === 'PUT');
    expect(put?.body).toEqual({ fields: { description: 'New text', assignee: { name: 'alice' } } });
  });

  it('transitions by name and lists reachable statuses on a mismatch', async () => {
    expect((await client.transitionIssue('FIN-2', 'IN PROGRESS')).name).toBe('In Progress');
    const error = await failureOf(
      () => client.transitionIssue('FIN-2', 'Archived'),
      UnknownStatusError,
    );
    expect(error).toBeInstanceOf(UnknownStatusError);
    expect(error.reachableStatuses).toEqual(['To Do', 'In Review', 'Done']);
  });

  it('adds a comment as a string', async () => {
    const comment = await client.addComment('FIN-1', 'Deployed *today*');
    expect(comment.body).toBe('Deployed *today*');
    const post = jira.requests.find(
      (request) => request.path === '/rest/api/2/issue/FIN-1/comment',
    );
    expect(post?.body).toEqual({ body: 'Deployed *today*' });
  });

  it('refuses an unknown assignee with Jira’s message', async () => {
    const error = await failureOf(() =>
      client.createIssue({ projectKey: 'FIN', title: 'x', assignee: 'nobody-here' }),
    );
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect(error.message).toBe('No Jira user matches "nobody-here".');
  });

  it('reports a dead token as an authentication problem, not as no projects', async () => {
    const dead = createProviderClient(
      { providerType: 'jira_server', baseUrl: jira.url, apiToken: 'expired-pat-456' },
      fastHttp,
    );
    const error = await failureOf(() => dead.listProjects({ limit: 5 }));
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(error.message).toContain('Jira Data Center did not accept the credential');
    expectNoSecretIn(error, 'expired-pat-456');
  });

  it('honours retry-after on 429, then succeeds; gives up when it never recovers', async () => {
    jira.setBehaviour({ rateLimitNext: { count: 2, retryAfterSeconds: 0 } });
    expect((await client.listMyIssues({ limit: 5 })).items.length).toBeGreaterThan(0);
    expect(jira.requests).toHaveLength(3);
    jira.requests.length = 0;
    jira.setBehaviour({ rateLimitNext: { count: Infinity, retryAfterSeconds: 1 } });
    const start = performance.now();
    const error = await failureOf(() => client.listMyIssues({ limit: 5 }));
    expect(error).toBeInstanceOf(ProviderRateLimitError);
    expect(elapsedSince(start)).toBeGreaterThanOrEqual(1_900);
    expect(jira.requests).toHaveLength(3);
  });
});
