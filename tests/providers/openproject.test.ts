import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createProviderClient,
  ProviderAuthError,
  ProviderConflictError,
  ProviderNotFoundError,
  ProviderRateLimitError,
  ProviderValidationError,
  UnknownStatusError,
  type ProviderClient,
} from '../../server/providers/index.js';
import {
  defaultOpenProjectUsers,
  seedOpenProjectProjects,
  seedOpenProjectWorkPackages,
  startFakeOpenProject,
  type OpenProjectFake,
} from '../fakes/openproject.js';
import { defined, expectNoSecretIn, failureOf, fastHttp } from './support.js';

const carol = defined(defaultOpenProjectUsers[0], 'carol');

describe('OpenProject client (API v3) against the fake', () => {
  let op: OpenProjectFake;
  let client: ProviderClient;

  beforeAll(async () => {
    op = await startFakeOpenProject({
      projects: [{ identifier: 'office', name: 'Office move' }, ...seedOpenProjectProjects(6)],
      workPackages: [
        {
          project: 'office',
          subject: 'Order desks',
          description: 'Twelve **adjustable** desks',
          status: 'In progress',
          assignee: 'carol',
          comments: Array.from({ length: 6 }, (_, index) => ({
            author: 'dave',
            body: `note ${index + 1}`,
          })),
        },
        { project: 'office', subject: 'Book movers', status: 'New', assignee: 'dave' },
        { project: 'office', subject: 'Cabling plan', status: 'Closed', assignee: 'carol' },
        ...seedOpenProjectWorkPackages('project-001', 5, { assignee: 'carol' }),
      ],
    });
    client = createProviderClient(
      { providerType: 'openproject', baseUrl: op.url, apiToken: carol.token },
      fastHttp,
    );
  });
  afterAll(async () => {
    expect(op.recordedText()).not.toMatch(/mcp_/);
    await op.stop();
  });
  beforeEach(() => {
    op.setBehaviour({
      latencyMs: 0,
      rateLimitNext: null,
      alwaysUnavailable: false,
      deadToken: false,
    });
    op.simulateConcurrentEdits(0);
    op.requests.length = 0;
  });

  it('checks credentials with Basic apikey:<token>', async () => {
    const account = await client.checkCredentials();
    expect(account).toEqual({ id: '5', displayName: 'Carol Example', email: carol.email });
    expect(op.requests[0]?.path).toBe('/api/v3/users/me');
    expect(op.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from(`apikey:${carol.token}`).toString('base64')}`,
    );
  });

  it('lists projects across more than two pages with page-number offsets starting at 1', async () => {
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listProjects({ cursor, limit: 3 });
      keys.push(...page.items.map((project) => project.key));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    // Sorted by name: "Office move" (id 1), then "Project 001" … "Project 006" (ids 2 … 7).
    expect(keys).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(op.requests.map((request) => [request.query.offset, request.query.pageSize])).toEqual([
      ['1', '3'],
      ['2', '3'],
      ['3', '3'],
    ]);
    const filtered = await client.listProjects({ query: 'office', limit: 10 });
    expect(filtered.items.map((project) => project.name)).toEqual(['Office move']);
    expect(JSON.parse(String(op.requests.at(-1)?.query.filters))).toEqual([
      { name_and_identifier: { operator: '~', values: ['office'] } },
    ]);
  });

  it('always sends filters, so a search without a status also finds closed work packages', async () => {
    const page = await client.searchIssues({ projectKey: 'office', limit: 10 });
    expect(page.items.map((issue) => issue.title).sort()).toEqual([
      'Book movers',
      'Cabling plan',
      'Order desks',
    ]);
    expect(
      op.requests.find((request) => request.path === '/api/v3/projects/office/work_packages')?.query
        .filters,
    ).toBe('[]');
    // Without filters, OpenProject itself answers with open work packages only.
    const raw = await fetch(`${op.url}/api/v3/projects/office/work_packages`, {
      headers: {
        authorization: `Basic ${Buffer.from(`apikey:${carol.token}`).toString('base64')}`,
      },
    });
    const body = (await raw.json()) as { total: number; _type: string };
    expect(body).toMatchObject({ _type: 'WorkPackageCollection', total: 2 });
  });

  it('searches by text, status (open / closed / name) and assignee', async () => {
    expect(
      (await client.searchIssues({ text: 'desks', limit: 10 })).items.map((issue) => issue.title),
    ).toEqual(['Order desks']);
    const closed = await client.searchIssues({ projectKey: 'office', status: 'closed', limit: 10 });
    expect(closed.items.map((issue) => issue.title)).toEqual(['Cabling plan']);
    expect(closed.items[0]?.status).toEqual({ name: 'Closed', category: 'done', isClosed: true });
    const named = await client.searchIssues({ status: 'in PROGRESS', limit: 10 });
    expect(named.items.map((issue) => issue.title)).toEqual(['Order desks']);
    const daves = await client.searchIssues({ assignee: 'Dave Other', limit: 10 });
    expect(daves.items.map((issue) => issue.title)).toEqual(['Book movers']);
    expect(daves.items[0]?.assignee).toEqual({ id: '6', displayName: 'Dave Other' });
    const error = await failureOf(() => client.searchIssues({ status: 'Someday', limit: 10 }));
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect(error.message).toContain('Statuses: New, In progress, In review, Closed, Rejected.');
  });

  it('lists my open work packages across pages', async () => {
    const first = await client.listMyIssues({ limit: 4 });
    expect(first.total).toBe(6);
    expect(first.items).toHaveLength(4);
    const second = await client.listMyIssues({ limit: 4, cursor: first.nextCursor ?? '' });
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
    expect([...first.items, ...second.items].map((issue) => issue.title)).not.toContain(
      'Cabling plan',
    );
    expect(
      JSON.parse(
        String(
          op.requests.find((request) => request.path === '/api/v3/work_packages')?.query.filters,
        ),
      ),
    ).toEqual([
      { assignee: { operator: '=', values: ['me'] } },
      { status: { operator: 'o', values: [] } },
    ]);
  });

  it('gets a work package with markdown description and its five latest comments (activities)', async () => {
    const issue = await client.getIssue('#1');
    expect(issue).toMatchObject({
      key: '1',
      title: 'Order desks',
      description: 'Twelve **adjustable** desks',
      commentCount: 6,
    });
    expect(issue.comments.map((comment) => comment.body)).toEqual([
      'note 2',
      'note 3',
      'note 4',
      'note 5',
      'note 6',
    ]);
    expect(issue.project).toEqual({ key: '1', name: 'Office move' });
    expect(issue.url).toBe(`${op.url}/work_packages/1`);
    await expect(client.getIssue('999')).rejects.toBeInstanceOf(ProviderNotFoundError);
  });

  it('creates a work package: markdown description, links for project, type, assignee, priority; 201', async () => {
    const created = await client.createIssue({
      projectKey: 'office',
      title: 'Plan the party',
      description: 'Cake *and* music',
      type: 'feature',
      assignee: 'me',
      priority: 'High',
    });
    expect(created).toMatchObject({
      title: 'Plan the party',
      description: 'Cake *and* music',
      type: 'Feature',
      priority: 'High',
    });
    expect(created.assignee?.displayName).toBe('Carol Example');
    const post = op.requests.find(
      (request) => request.method === 'POST' && request.path === '/api/v3/work_packages',
    );
    expect(post?.body).toEqual({
      subject: 'Plan the party',
      description: { format: 'markdown', raw: 'Cake *and* music' },
      _links: {
        project: { href: '/api/v3/projects/1' },
        type: { href: '/api/v3/types/4' },
        assignee: { href: '/api/v3/users/5' },
        priority: { href: '/api/v3/priorities/9' },
      },
    });
  });

  it('maps a 422 PropertyConstraintViolation to a validation error with the attribute', async () => {
    const error = await failureOf(
      () => client.createIssue({ projectKey: 'office', title: '   ' }),
      ProviderValidationError,
    );
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect(error.fieldErrors).toEqual({ subject: "Subject can't be blank." });
    expect(error.message).toBe(
      "OpenProject refused POST /api/v3/work_packages: Subject can't be blank.",
    );
  });

  it('updates with the current lockVersion', async () => {
    const before = op.workPackage(2)?.lockVersion ?? -1;
    const updated = await client.updateIssue('2', {
      title: 'Book the movers',
      assignee: null,
      priority: 'Immediate',
    });
    expect(updated).toMatchObject({
      title: 'Book the movers',
      assignee: null,
      priority: 'Immediate',
    });
    const patch = op.requests.find((request) => request.method === 'PATCH');
    expect(patch?.body).toEqual({
      lockVersion: before,
      subject: 'Book the movers',
      _links: { assignee: { href: null }, priority: { href: '/api/v3/priorities/10' } },
    });
  });

  it('re-reads and retries once on a 409 UpdateConflict', async () => {
    op.simulateConcurrentEdits(1);
    const updated = await client.updateIssue('2', { description: 'Call three companies' });
    expect(updated.description).toBe('Call three companies');
    const calls = op.requests
      .filter((request) => request.path === '/api/v3/work_packages/2')
      .map((request) => request.method);
    expect(calls.slice(0, 4)).toEqual(['GET', 'PATCH', 'GET', 'PATCH']);
    const patches = op.requests.filter((request) => request.method === 'PATCH');
    const [firstLock, secondLock] = patches.map(
      (request) => (request.body as { lockVersion: number }).lockVersion,
    );
    expect(secondLock).toBe((firstLock ?? 0) + 1);
  });

  it('reports a conflict that persists after the retry', async () => {
    op.simulateConcurrentEdits(2);
    const error = await failureOf(() => client.updateIssue('2', { title: 'Again' }));
    expect(error).toBeInstanceOf(ProviderConflictError);
    expect(error.message).toContain('kept changing');
    expect(op.requests.filter((request) => request.method === 'PATCH')).toHaveLength(2);
  });

  it('transitions by status name (from /api/v3/statuses) through a lockVersioned PATCH', async () => {
    const fresh = createProviderClient(
      { providerType: 'openproject', baseUrl: op.url, apiToken: carol.token },
      fastHttp,
    );
    const status = await fresh.transitionIssue('2', 'in review');
    expect(status).toEqual({ name: 'In review', category: 'in_progress', isClosed: false });
    const patch = op.requests.find((request) => request.method === 'PATCH');
    expect(patch?.body).toMatchObject({ _links: { status: { href: '/api/v3/statuses/10' } } });
    expect(typeof (patch?.body as { lockVersion?: unknown }).lockVersion).toBe('number');
    expect(op.requests.some((request) => request.path === '/api/v3/statuses')).toBe(true);
  });

  it('lists the statuses when the name matches none, and passes on a workflow refusal', async () => {
    const error = await failureOf(() => client.transitionIssue('2', 'Done'), UnknownStatusError);
    expect(error).toBeInstanceOf(UnknownStatusError);
    expect(error.reachableStatuses).toEqual(['New', 'In progress', 'Closed', 'Rejected']);

    await client.transitionIssue('2', 'Rejected');
    const refused = await failureOf(
      () => client.transitionIssue('2', 'Closed'),
      ProviderValidationError,
    );
    expect(refused).toBeInstanceOf(ProviderValidationError);
    expect(refused.message).toContain('no valid transition exists from old to new status');
    expect(refused.fieldErrors).toHaveProperty('status');
  });

  it('adds a comment as an activity (201) with markdown', async () => {
    const comment = await client.addComment('1', 'Desks **ordered**');
    expect(comment).toMatchObject({
      body: 'Desks **ordered**',
      author: { id: '5', displayName: 'Carol Example' },
    });
    const post = op.requests.find((request) => request.method === 'POST');
    expect(post?.path).toBe('/api/v3/work_packages/1/activities');
    expect(post?.body).toEqual({ comment: { raw: 'Desks **ordered**' } });
  });

  it('reports a dead API key as an authentication problem with OpenProject’s message', async () => {
    op.setBehaviour({ deadToken: true });
    const error = await failureOf(() => client.listProjects({ limit: 5 }));
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(error.message).toContain('You need to be authenticated to access this resource.');
    expectNoSecretIn(error, carol.token);
  });

  it('honours Retry-After on 429 and gives up when it never recovers', async () => {
    op.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 0 } });
    expect((await client.checkCredentials()).id).toBe('5');
    op.setBehaviour({ rateLimitNext: { count: Infinity, retryAfterSeconds: 0 } });
    await expect(client.checkCredentials()).rejects.toBeInstanceOf(ProviderRateLimitError);
  });
});
