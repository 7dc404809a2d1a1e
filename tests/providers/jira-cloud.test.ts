import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createProviderClient,
  ProviderAuthError,
  ProviderNotFoundError,
  ProviderRateLimitError,
  ProviderUnavailableError,
  ProviderValidationError,
  UnknownStatusError,
  type ProviderClient,
} from '../../server/providers/index.js';
import {
  defaultJiraUsers,
  seedJiraIssues,
  seedJiraProjects,
  startFakeJiraCloud,
  type JiraFake,
} from '../fakes/jira-cloud.js';
import { defined, elapsedSince, expectNoSecretIn, failureOf, fastHttp } from './support.js';

const alice = defined(defaultJiraUsers[0], 'alice');
const bob = defined(defaultJiraUsers[1], 'bob');

describe('Jira Cloud client (REST v3) against the fake', () => {
  let jira: JiraFake;
  let client: ProviderClient;

  beforeAll(async () => {
    jira = await startFakeJiraCloud({
      projects: [
        { key: 'WEB', name: 'Website' },
        { key: 'MOB', name: 'Mobile app' },
        ...seedJiraProjects(5),
      ],
      issues: [
        {
          projectKey: 'WEB',
          summary: 'Hero image is blurry',
          description: 'Use a **2x** asset.\n\n- export\n- serve with `srcset`',
          status: 'In Progress',
          assignee: 'alice',
          comments: Array.from({ length: 7 }, (_, index) => ({
            author: 'bob',
            body: `comment ${index + 1}`,
          })),
        },
        { projectKey: 'WEB', summary: 'Cookie banner', status: 'To Do', assignee: 'alice' },
        { projectKey: 'WEB', summary: 'Old blog migration', status: 'Done', assignee: 'alice' },
        { projectKey: 'MOB', summary: 'Crash in settings', status: 'To Do', assignee: 'bob' },
        ...seedJiraIssues('P001', 5, { assignee: 'alice' }),
      ],
    });
    client = createProviderClient(
      { providerType: 'jira', baseUrl: jira.url, email: alice.email, apiToken: alice.token },
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

  it('checks credentials with Basic email:token against /myself', async () => {
    const account = await client.checkCredentials();
    expect(account).toEqual({
      id: alice.accountId,
      displayName: 'Alice Example',
      email: alice.email,
    });
    const [request] = jira.requests;
    expect(request?.path).toBe('/rest/api/3/myself');
    const basic = Buffer.from(`${alice.email}:${alice.token}`).toString('base64');
    expect(request?.headers.authorization).toBe(`Basic ${basic}`);
  });

  it('lists projects across more than two pages with startAt / isLast', async () => {
    const keys: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listProjects({ cursor, limit: 3 });
      keys.push(...page.items.map((project) => project.key));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(keys).toEqual(['MOB', 'P001', 'P002', 'P003', 'P004', 'P005', 'WEB']);
    expect(jira.requests.map((request) => request.path)).toEqual(
      Array(3).fill('/rest/api/3/project/search'),
    );
    expect(jira.requests.map((request) => request.query.startAt)).toEqual(['0', '3', '6']);
  });

  it('filters projects by text', async () => {
    const page = await client.listProjects({ query: 'mobile', limit: 20 });
    expect(page.items.map((project) => project.key)).toEqual(['MOB']);
    expect(page.items[0]?.url).toBe(`${jira.url}/browse/MOB`);
  });

  it('searches with /search/jql and follows nextPageToken (no total)', async () => {
    const first = await client.searchIssues({ projectKey: 'P001', limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.total).toBeNull();
    expect(first.nextCursor).toEqual(expect.any(String));
    const keys = first.items.map((issue) => issue.key);
    let cursor = first.nextCursor ?? undefined;
    while (cursor) {
      const page = await client.searchIssues({ projectKey: 'P001', limit: 2, cursor });
      keys.push(...page.items.map((issue) => issue.key));
      cursor = page.nextCursor ?? undefined;
    }
    expect(new Set(keys).size).toBe(5);
    const searches = jira.requests.filter((request) => request.path === '/rest/api/3/search/jql');
    expect(searches).toHaveLength(3);
    expect(searches[0]?.query.jql).toBe('project = "P001" ORDER BY updated DESC');
    expect(searches[0]?.query.nextPageToken).toBeUndefined();
    expect(searches[1]?.query.nextPageToken).toBe(first.nextCursor);
    expect(jira.requests.some((request) => request.path === '/rest/api/3/search')).toBe(false);
  });

  it('bounds a search without filters, because Cloud refuses unbounded JQL', async () => {
    const page = await client.searchIssues({ limit: 50 });
    expect(page.items.length).toBeGreaterThan(5);
    expect(jira.requests.at(-1)?.query.jql).toBe('updated >= -365d ORDER BY updated DESC');
  });

  it('searches by text, status open / closed / name, and assignee me / by name', async () => {
    const text = await client.searchIssues({ text: 'blurry', limit: 10 });
    expect(text.items.map((issue) => issue.title)).toEqual(['Hero image is blurry']);

    const open = await client.searchIssues({ projectKey: 'WEB', status: 'open', limit: 10 });
    expect(open.items.map((issue) => issue.title).sort()).toEqual([
      'Cookie banner',
      'Hero image is blurry',
    ]);
    const closed = await client.searchIssues({ projectKey: 'WEB', status: 'closed', limit: 10 });
    expect(closed.items.map((issue) => issue.title)).toEqual(['Old blog migration']);
    expect(closed.items[0]?.status).toEqual({ name: 'Done', category: 'done', isClosed: true });
    const named = await client.searchIssues({ status: 'in progress', limit: 10 });
    expect(named.items.map((issue) => issue.key)).toEqual(['WEB-1']);

    const mine = await client.searchIssues({ projectKey: 'MOB', assignee: 'me', limit: 10 });
    expect(mine.items).toEqual([]);
    const bobs = await client.searchIssues({ assignee: 'Bob Builder', limit: 10 });
    expect(bobs.items.map((issue) => issue.title)).toEqual(['Crash in settings']);
    expect(bobs.items[0]?.assignee).toEqual({ id: bob.accountId, displayName: 'Bob Builder' });
    const userSearch = jira.requests.find((request) => request.path === '/rest/api/3/user/search');
    expect(userSearch?.query.query).toBe('Bob Builder');
    expect(jira.requests.at(-1)?.query.jql).toContain(`assignee = "${bob.accountId}"`);
  });

  it('passes JQL through, keeping its ORDER BY', async () => {
    const page = await client.searchIssues({
      jql: 'project = WEB ORDER BY created ASC',
      status: 'open',
      limit: 10,
    });
    expect(page.items.map((issue) => issue.key)).toEqual(['WEB-1', 'WEB-2']);
    expect(jira.requests.at(-1)?.query.jql).toBe(
      '(project = WEB) AND statusCategory != Done ORDER BY created ASC',
    );
  });

  it('reports invalid JQL as a validation error with Jira’s message', async () => {
    const error = await failureOf(() => client.searchIssues({ jql: 'project = NOPE', limit: 10 }));
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect(error.message).toContain("The value 'NOPE' does not exist for the field 'project'.");
  });

  it('lists my open issues, most recently updated first', async () => {
    const page = await client.listMyIssues({ limit: 50 });
    const titles = page.items.map((issue) => issue.title);
    expect(titles).toContain('Hero image is blurry');
    expect(titles).not.toContain('Old blog migration');
    expect(titles).not.toContain('Crash in settings');
    expect(jira.requests.at(-1)?.query.jql).toBe(
      'assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC',
    );
  });

  it('gets an issue with its description as markdown and the five most recent comments', async () => {
    const issue = await client.getIssue('web-1');
    expect(issue.key).toBe('WEB-1');
    expect(issue.description).toBe('Use a **2x** asset.\n\n- export\n- serve with `srcset`');
    expect(issue.status.name).toBe('In Progress');
    expect(issue.assignee?.displayName).toBe('Alice Example');
    expect(issue.commentCount).toBe(7);
    expect(issue.comments.map((comment) => comment.body)).toEqual([
      'comment 3',
      'comment 4',
      'comment 5',
      'comment 6',
      'comment 7',
    ]);
    expect(issue.comments[0]?.author?.displayName).toBe('Bob Builder');
  });

  it('reports a missing issue as not found, with Jira’s message', async () => {
    const error = await failureOf(() => client.getIssue('WEB-999'));
    expect(error).toBeInstanceOf(ProviderNotFoundError);
    expect(error.message).toContain(
      'Issue does not exist or you do not have permission to see it.',
    );
  });

  it('creates an issue: the description reaches Jira as ADF, the assignee as an accountId', async () => {
    const created = await client.createIssue({
      projectKey: 'MOB',
      title: 'Offline mode',
      description: 'Cache the **last** sync.',
      type: 'Story',
      assignee: 'me',
      priority: 'High',
    });
    expect(created).toMatchObject({ title: 'Offline mode', type: 'Story', priority: 'High' });
    expect(created.key).toMatch(/^MOB-\d+$/);
    expect(created.description).toBe('Cache the **last** sync.');
    const post = jira.requests.find(
      (request) => request.method === 'POST' && request.path === '/rest/api/3/issue',
    );
    const fields = (post?.body as { fields: Record<string, unknown> }).fields;
    expect(fields.description).toEqual({
      type: 'doc',
      version: 1,
      content: [
        {
          type: 'paragraph',
          content: [
            { type: 'text', text: 'Cache the ' },
            { type: 'text', text: 'last', marks: [{ type: 'strong' }] },
            { type: 'text', text: ' sync.' },
          ],
        },
      ],
    });
    expect(fields.assignee).toEqual({ accountId: alice.accountId });
    expect(fields.project).toEqual({ key: 'MOB' });
    expect(fields.issuetype).toEqual({ name: 'Story' });
  });

  it('refuses an invalid create with Jira’s field errors', async () => {
    const error = await failureOf(
      () => client.createIssue({ projectKey: 'MOB', title: 'x', type: 'Epic saga' }),
      ProviderValidationError,
    );
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect(error.fieldErrors).toEqual({ issuetype: 'The issue type selected is invalid.' });
    expect(error.message).toContain('issuetype: The issue type selected is invalid.');
  });

  it('updates title, description (as ADF), assignee and priority, and unassigns', async () => {
    const updated = await client.updateIssue('WEB-2', {
      title: 'Cookie consent banner',
      description: 'GDPR *compliant*',
      assignee: 'bob',
      priority: 'Low',
    });
    expect(updated).toMatchObject({
      title: 'Cookie consent banner',
      description: 'GDPR *compliant*',
      priority: 'Low',
    });
    expect(updated.assignee?.displayName).toBe('Bob Builder');
    const put = jira.requests.find((request) => request.method === 'PUT');
    expect(put?.path).toBe('/rest/api/3/issue/WEB-2');
    expect(
      (put?.body as { fields: { description: { type: string } } }).fields.description.type,
    ).toBe('doc');

    const unassigned = await client.updateIssue('WEB-2', { assignee: null });
    expect(unassigned.assignee).toBeNull();
  });

  it('transitions by status name, case-insensitively, through the matching transition', async () => {
    const status = await client.transitionIssue('WEB-1', 'in review');
    expect(status).toEqual({ name: 'In Review', category: 'in_progress', isClosed: false });
    const post = jira.requests.find(
      (request) => request.method === 'POST' && request.path.endsWith('/transitions'),
    );
    expect(post?.body).toEqual({ transition: { id: '21' } });
    expect(jira.issue('WEB-1')?.status).toBe('In Review');
    // Asking for the status it already has changes nothing.
    jira.requests.length = 0;
    expect((await client.transitionIssue('WEB-1', 'In Review')).name).toBe('In Review');
    expect(jira.requests.some((request) => request.method === 'POST')).toBe(false);
  });

  it('lists the reachable statuses when the name matches none', async () => {
    const error = await failureOf(
      () => client.transitionIssue('WEB-2', 'Shipped'),
      UnknownStatusError,
    );
    expect(error).toBeInstanceOf(UnknownStatusError);
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect(error.reachableStatuses).toEqual(['In Progress', 'Done']);
    expect(error.message).toBe(
      'No status named "Shipped" can be reached from here (current status: To Do). Reachable statuses: In Progress, Done.',
    );
  });

  it('adds a comment: ADF goes in, markdown comes back', async () => {
    const comment = await client.addComment('MOB-1', 'Fixed in `1.2.3`');
    expect(comment.body).toBe('Fixed in `1.2.3`');
    expect(comment.author?.displayName).toBe('Alice Example');
    const post = jira.requests.find(
      (request) => request.path === '/rest/api/3/issue/MOB-1/comment',
    );
    expect((post?.body as { body: { type: string } }).body.type).toBe('doc');
  });

  describe('a dead token', () => {
    it('is answered by Jira as anonymous (200, empty, X-Seraph-LoginReason) on project/search', async () => {
      const response = await fetch(`${jira.url}/rest/api/3/project/search`, {
        headers: {
          authorization: `Basic ${Buffer.from(`${alice.email}:revoked`).toString('base64')}`,
        },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-seraph-loginreason')).toBe('AUTHENTICATED_FAILED');
      expect(await response.json()).toMatchObject({ total: 0, isLast: true, values: [] });
    });

    it('is an authentication error from listProjects, not an empty list', async () => {
      const dead = createProviderClient(
        {
          providerType: 'jira',
          baseUrl: jira.url,
          email: alice.email,
          apiToken: 'revoked-token-123',
        },
        fastHttp,
      );
      const error = await failureOf(() => dead.listProjects({ limit: 10 }), ProviderAuthError);
      expect(error).toBeInstanceOf(ProviderAuthError);
      expect(error.code).toBe('provider_auth_failed');
      expect(error.message).toContain('AUTHENTICATED_FAILED');
      expectNoSecretIn(error, 'revoked-token-123');
      await expect(dead.searchIssues({ text: 'x', limit: 5 })).rejects.toBeInstanceOf(
        ProviderAuthError,
      );
      await expect(dead.checkCredentials()).rejects.toBeInstanceOf(ProviderAuthError);
    });

    it('is an authentication error when Jira revokes it later (deadToken behaviour)', async () => {
      jira.setBehaviour({ deadToken: true });
      await expect(client.listMyIssues({ limit: 5 })).rejects.toBeInstanceOf(ProviderAuthError);
      await expect(client.getIssue('WEB-1')).rejects.toBeInstanceOf(ProviderAuthError);
    });
  });

  describe('rate limiting and outages', () => {
    it('honours Retry-After on 429 and then succeeds', async () => {
      jira.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 1 } });
      const start = performance.now();
      const page = await client.listProjects({ limit: 2 });
      expect(page.items).toHaveLength(2);
      expect(elapsedSince(start)).toBeGreaterThanOrEqual(950);
      expect(jira.requests).toHaveLength(2);
    });

    it('gives up with a clear rate-limit error when it never recovers', async () => {
      jira.setBehaviour({ rateLimitNext: { count: Infinity, retryAfterSeconds: 0 } });
      const error = await failureOf(() => client.listProjects({ limit: 2 }));
      expect(error).toBeInstanceOf(ProviderRateLimitError);
      expect(error.message).toMatch(
        /Jira Cloud is rate-limiting requests \(429 on GET \/rest\/api\/3\/project\/search\); gave up because it still answered 429 after 3 attempts/,
      );
      expect(jira.requests).toHaveLength(3);
      expectNoSecretIn(error, alice.token);
    });

    it('does not wait when Retry-After is beyond the cap', async () => {
      jira.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 120 } });
      const start = performance.now();
      const error = await failureOf(() => client.getIssue('WEB-1'), ProviderRateLimitError);
      expect(elapsedSince(start)).toBeLessThan(1_000);
      expect(error).toBeInstanceOf(ProviderRateLimitError);
      expect(error.retryAfterSeconds).toBe(120);
      expect(error.message).toContain('it asked to wait 120 s');
      expect(jira.requests).toHaveLength(1);
    });

    it('reports a provider that is always down as unavailable', async () => {
      jira.setBehaviour({ alwaysUnavailable: true });
      const error = await failureOf(() => client.listProjects({ limit: 2 }));
      expect(error).toBeInstanceOf(ProviderUnavailableError);
      expect(error.message).toMatch(/Jira Cloud is unavailable \(503/);
      expect(jira.requests).toHaveLength(3);
    });

    it('times out a slow answer', async () => {
      jira.setBehaviour({ latencyMs: 1_000 });
      const slow = createProviderClient(
        { providerType: 'jira', baseUrl: jira.url, email: alice.email, apiToken: alice.token },
        { ...fastHttp, timeoutMs: 100 },
      );
      const error = await failureOf(() => slow.checkCredentials(), ProviderUnavailableError);
      expect(error).toBeInstanceOf(ProviderUnavailableError);
      expect(error.code).toBe('provider_timeout');
      expect(error.message).toContain('did not answer within 0.1 s');
    });
  });
});
