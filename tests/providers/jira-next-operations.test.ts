/**
 * find users, log work, link issues, list versions / sprints, version and sprint filters and field
 * selection, on Jira Cloud (REST v3) and Jira Data Center (REST v2), against the fakes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createProviderClient,
  ProviderForbiddenError,
  ProviderNotFoundError,
  ProviderRateLimitError,
  ProviderValidationError,
  type ProviderClient,
} from '../../server/providers/index.js';
import { startFakeJiraCloud } from '../fakes/jira-cloud.js';
import {
  defaultJiraUsers,
  type JiraFake,
  type JiraFakeOptions,
  type JiraFakeUser,
} from '../fakes/jira-core.js';
import { startFakeJiraDataCenter } from '../fakes/jira-data-center.js';
import { defined, elapsedSince, failureOf, fastHttp } from './support.js';

const alice = defined(defaultJiraUsers[0], 'alice');
const bob = defined(defaultJiraUsers[1], 'bob');
const testers: JiraFakeUser[] = Array.from({ length: 5 }, (_, index) => ({
  accountId: `70121:tester-${index + 1}`,
  name: `tester${index + 1}`,
  displayName: `Tester ${index + 1}`,
  email: `tester${index + 1}@example.com`,
  token: `jira-token-tester-${index + 1}`,
}));

const seed: JiraFakeOptions = {
  users: [alice, bob, ...testers],
  projects: [
    { key: 'WEB', name: 'Website' },
    { key: 'OPS', name: 'Operations' },
  ],
  versions: [
    { projectKey: 'WEB', name: '1.0', released: true, releaseDate: '2026-01-15' },
    { projectKey: 'WEB', name: '1.1', releaseDate: '2026-03-01', description: 'Spring release' },
    { projectKey: 'WEB', name: '0.9', archived: true, released: true },
  ],
  boards: [
    { projectKey: 'WEB', name: 'WEB scrum', type: 'scrum' },
    { projectKey: 'WEB', name: 'WEB flow', type: 'kanban' },
  ],
  sprints: [
    { board: 'WEB scrum', name: 'Sprint 1', state: 'closed', endDate: '2026-01-10T00:00:00.000Z' },
    { board: 'WEB scrum', name: 'Sprint 2', state: 'active', goal: 'Ship the hero image' },
    { board: 'WEB scrum', name: 'Sprint 3', state: 'future' },
  ],
  customFields: [
    { name: 'Story Points', type: 'number' },
    { name: 'Risk', type: 'option' },
  ],
  issues: [
    {
      projectKey: 'WEB',
      summary: 'Hero image is blurry',
      fixVersions: ['1.1'],
      sprint: 'Sprint 2',
      assignee: 'alice',
      customFields: { 'Story Points': 5, Risk: { value: 'High', id: '10200' } },
    },
    { projectKey: 'WEB', summary: 'Cookie banner', fixVersions: ['1.0'], sprint: 'Sprint 1' },
    { projectKey: 'WEB', summary: 'Footer links', assignee: 'bob' },
  ],
};

const flavours = [
  {
    name: 'Jira Cloud',
    prefix: '/rest/api/3',
    start: startFakeJiraCloud,
    client: (url: string): ProviderClient =>
      createProviderClient(
        { providerType: 'jira', baseUrl: url, email: alice.email, apiToken: alice.token },
        fastHttp,
      ),
    userId: (user: JiraFakeUser) => user.accountId,
    searchParam: 'query',
  },
  {
    name: 'Jira Data Center',
    prefix: '/rest/api/2',
    start: startFakeJiraDataCenter,
    client: (url: string): ProviderClient =>
      createProviderClient(
        { providerType: 'jira_server', baseUrl: url, apiToken: alice.token },
        fastHttp,
      ),
    userId: (user: JiraFakeUser) => user.name,
    searchParam: 'username',
  },
] as const;

describe.each(flavours)('$name: the next operations against the fake', (flavour) => {
  let jira: JiraFake;
  let client: ProviderClient;
  const isCloud = flavour.prefix === '/rest/api/3';

  beforeAll(async () => {
    jira = await flavour.start(seed);
    client = flavour.client(jira.url);
  });
  afterAll(async () => {
    await jira.stop();
  });
  const lastSearch = (): Record<string, string | string[]> | undefined =>
    jira.requests.findLast((request) => request.path.includes('/search'))?.query;
  beforeEach(() => {
    jira.setBehaviour({
      latencyMs: 0,
      rateLimitNext: null,
      alwaysUnavailable: false,
      deadToken: false,
      forbidden: null,
    });
    jira.state.jiraSoftware = true;
    jira.requests.length = 0;
  });

  describe('findUsers', () => {
    it('finds people by name or email with the flavour’s parameter, the id Jira assigns by', async () => {
      const page = await client.findUsers({ query: 'bob@example.com', limit: 10 });
      expect(page.items).toEqual([
        {
          id: flavour.userId(bob),
          displayName: 'Bob Builder',
          email: bob.email,
          login: isCloud ? null : 'bob',
          active: true,
        },
      ]);
      const request = jira.requests.at(-1);
      expect(request?.path).toBe(`${flavour.prefix}/user/search`);
      expect(request?.query[flavour.searchParam]).toBe('bob@example.com');
    });

    it('pages with startAt / maxResults (Jira gives no total)', async () => {
      const first = await client.findUsers({ query: 'tester', limit: 2 });
      expect(first.total).toBeNull();
      const names = first.items.map((user) => user.displayName);
      let cursor = first.nextCursor ?? undefined;
      let pages = 1;
      while (cursor) {
        const page = await client.findUsers({ query: 'tester', limit: 2, cursor });
        names.push(...page.items.map((user) => user.displayName));
        cursor = page.nextCursor ?? undefined;
        pages++;
      }
      expect(pages).toBe(3);
      expect(names).toEqual(testers.map((user) => user.displayName));
      expect(jira.requests.map((request) => request.query.startAt)).toEqual(['0', '2', '4']);
    });

    it('refuses an empty query before asking Jira', async () => {
      const error = await failureOf(
        () => client.findUsers({ query: '  ', limit: 10 }),
        ProviderValidationError,
      );
      expect(error.message).toContain('name, login or email');
      expect(jira.requests).toHaveLength(0);
    });

    it('reports a 403 as forbidden with Jira’s message', async () => {
      jira.setBehaviour({ forbidden: /\/user\/search$/ });
      const error = await failureOf(
        () => client.findUsers({ query: 'bob', limit: 10 }),
        ProviderForbiddenError,
      );
      expect(error.code).toBe('provider_forbidden');
      expect(error.message).toContain('403');
      expect(error.message).toContain('You do not have the permission to perform this operation.');
    });

    it('waits out a 429 with Retry-After and then answers', async () => {
      jira.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 1 } });
      const started = performance.now();
      const page = await client.findUsers({ query: 'alice', limit: 10 });
      expect(page.items.map((user) => user.displayName)).toEqual(['Alice Example']);
      expect(elapsedSince(started)).toBeGreaterThanOrEqual(950);
      expect(jira.requests).toHaveLength(2);
    });
  });

  describe('logWork', () => {
    it('posts timeSpentSeconds, Jira’s started format and the comment as the flavour takes it', async () => {
      const log = await client.logWork('web-1', {
        timeSpentSeconds: 5400,
        comment: 'Paired on the **export**',
        started: '2026-03-02',
      });
      expect(log).toMatchObject({
        issueKey: 'WEB-1',
        timeSpentSeconds: 5400,
        spentOn: '2026-03-02',
        comment: isCloud ? 'Paired on the **export**' : 'Paired on the **export**',
        author: { id: flavour.userId(alice), displayName: 'Alice Example' },
      });
      const request = jira.requests.at(-1);
      expect(request?.method).toBe('POST');
      expect(request?.path).toBe(`${flavour.prefix}/issue/WEB-1/worklog`);
      const body = request?.body as Record<string, unknown>;
      expect(body.timeSpentSeconds).toBe(5400);
      expect(body.started).toBe('2026-03-02T12:00:00.000+0000');
      if (isCloud) expect(body.comment).toMatchObject({ type: 'doc', version: 1 });
      else expect(body.comment).toBe('Paired on the **export**');
      expect(jira.state.worklogs.at(-1)?.timeSpentSeconds).toBe(5400);
    });

    it('turns an ISO date-time into Jira’s +0000 form (Jira refuses a trailing Z)', async () => {
      await client.logWork('WEB-2', { timeSpentSeconds: 600, started: '2026-03-02T08:15:00Z' });
      const body = jira.requests.at(-1)?.body as Record<string, unknown>;
      expect(body.started).toBe('2026-03-02T08:15:00.000+0000');
    });

    it('refuses less than a minute and a non-date before asking Jira', async () => {
      await failureOf(
        () => client.logWork('WEB-1', { timeSpentSeconds: 30 }),
        ProviderValidationError,
      );
      const error = await failureOf(
        () => client.logWork('WEB-1', { timeSpentSeconds: 600, started: 'yesterday' }),
        ProviderValidationError,
      );
      expect(error.message).toContain('"yesterday" is not a date');
      expect(jira.requests).toHaveLength(0);
    });

    it('reports an unknown issue as not found (404)', async () => {
      const error = await failureOf(
        () => client.logWork('WEB-99', { timeSpentSeconds: 600 }),
        ProviderNotFoundError,
      );
      expect(error.message).toContain('Issue does not exist');
    });

    it('reports a 403 as forbidden', async () => {
      jira.setBehaviour({ forbidden: /^POST .*\/worklog$/ });
      const error = await failureOf(
        () => client.logWork('WEB-1', { timeSpentSeconds: 600 }),
        ProviderForbiddenError,
      );
      expect(error.status).toBe(403);
    });

    it('gives up at once when Retry-After asks for longer than it waits, saying how long', async () => {
      jira.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 30 } });
      const error = await failureOf(
        () => client.logWork('WEB-1', { timeSpentSeconds: 600 }),
        ProviderRateLimitError,
      );
      expect(error.retryAfterSeconds).toBe(30);
      expect(error.message).toContain('Try again in 30 s');
      expect(jira.requests).toHaveLength(1);
      expect(jira.state.worklogs.filter((log) => log.timeSpentSeconds === 600)).toHaveLength(1);
    });
  });

  describe('linkIssues', () => {
    it('links by type name: the from issue is the outward one', async () => {
      const link = await client.linkIssues({ fromKey: 'WEB-1', toKey: 'web-2', type: 'Blocks' });
      expect(link).toEqual({
        id: null,
        description: 'blocks',
        type: 'Blocks',
        fromKey: 'WEB-1',
        toKey: 'WEB-2',
      });
      const post = jira.requests.at(-1);
      expect(jira.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        `GET ${flavour.prefix}/issueLinkType`,
        `POST ${flavour.prefix}/issueLink`,
      ]);
      expect(post?.body).toEqual({
        type: { name: 'Blocks' },
        outwardIssue: { key: 'WEB-1' },
        inwardIssue: { key: 'WEB-2' },
      });
      expect(jira.state.links.at(-1)).toMatchObject({
        outwardIssue: 'WEB-1',
        inwardIssue: 'WEB-2',
      });
    });

    it('takes the inward description and links the other way round, with a comment', async () => {
      const link = await client.linkIssues({
        fromKey: 'WEB-3',
        toKey: 'WEB-1',
        type: 'is blocked by',
        comment: 'Needs the image first',
      });
      expect(link.description).toBe('is blocked by');
      expect(jira.state.links.at(-1)).toMatchObject({
        type: 'Blocks',
        outwardIssue: 'WEB-1',
        inwardIssue: 'WEB-3',
      });
      const body = jira.requests.at(-1)?.body as { comment?: { body?: unknown } };
      if (isCloud) expect(body.comment?.body).toMatchObject({ type: 'doc' });
      else expect(body.comment?.body).toBe('Needs the image first');
    });

    it('lists the available link types when the name matches none', async () => {
      const error = await failureOf(
        () => client.linkIssues({ fromKey: 'WEB-1', toKey: 'WEB-2', type: 'causes' }),
        ProviderValidationError,
      );
      expect(error.message).toBe(
        'Jira has no issue link type "causes". Link types: Blocks (blocks / is blocked by), Cloners (clones / is cloned by), Duplicate (duplicates / is duplicated by), Relates (relates to / relates to).',
      );
      expect(jira.requests.filter((request) => request.method === 'POST')).toHaveLength(0);
    });

    it('reports an unknown issue as not found (404)', async () => {
      const error = await failureOf(
        () => client.linkIssues({ fromKey: 'WEB-1', toKey: 'WEB-404', type: 'Relates' }),
        ProviderNotFoundError,
      );
      expect(error.message).toContain('Issue Does Not Exist');
    });

    it('reports a 403 as forbidden', async () => {
      jira.setBehaviour({ forbidden: /^POST .*\/issueLink$/ });
      await failureOf(
        () => client.linkIssues({ fromKey: 'WEB-1', toKey: 'WEB-2', type: 'Relates' }),
        ProviderForbiddenError,
      );
    });

    it('waits out a 429 with Retry-After and then links', async () => {
      jira.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 1 } });
      const link = await client.linkIssues({
        fromKey: 'WEB-2',
        toKey: 'WEB-3',
        type: 'duplicates',
      });
      expect(link.type).toBe('Duplicate');
      expect(jira.requests).toHaveLength(3);
    });
  });

  describe('listVersions', () => {
    it('lists versions and the scrum board’s sprints, current work first; kanban boards are not asked', async () => {
      const page = await client.listVersions({ projectKey: 'web', limit: 20 });
      expect(page.sprintsAvailable).toBe(true);
      expect(page.total).toBe(6);
      expect(page.items.map((version) => [version.kind, version.name, version.state])).toEqual([
        ['sprint', 'Sprint 2', 'active'],
        ['sprint', 'Sprint 3', 'future'],
        ['version', '1.1', 'open'],
        ['sprint', 'Sprint 1', 'closed'],
        ['version', '1.0', 'released'],
        ['version', '0.9', 'archived'],
      ]);
      expect(page.items[0]).toMatchObject({
        description: 'Ship the hero image',
        board: 'WEB scrum',
      });
      expect(page.items[2]).toMatchObject({ endDate: '2026-03-01', description: 'Spring release' });
      const paths = jira.requests.map((request) => request.path);
      expect(paths).toContain(`${flavour.prefix}/project/WEB/versions`);
      expect(paths).toContain('/rest/agile/1.0/board');
      expect(paths).toContain('/rest/agile/1.0/board/1/sprint');
      expect(paths).not.toContain('/rest/agile/1.0/board/2/sprint');
      expect(
        jira.requests.find((r) => r.path === '/rest/agile/1.0/board')?.query.projectKeyOrId,
      ).toBe('WEB');
    });

    it('pages the combined list with a cursor', async () => {
      const first = await client.listVersions({ projectKey: 'WEB', limit: 4 });
      expect(first.items).toHaveLength(4);
      const second = await client.listVersions({
        projectKey: 'WEB',
        limit: 4,
        cursor: first.nextCursor ?? undefined,
      });
      expect(second.items.map((version) => version.name)).toEqual(['1.0', '0.9']);
      expect(second.nextCursor).toBeNull();
    });

    it('treats a 404 from the agile API as a site without Jira Software, not an error', async () => {
      jira.state.jiraSoftware = false;
      const page = await client.listVersions({ projectKey: 'WEB', limit: 20 });
      expect(page.sprintsAvailable).toBe(false);
      expect(page.items.map((version) => version.name)).toEqual(['1.1', '1.0', '0.9']);
    });

    it('reports an unknown project as not found (404)', async () => {
      const error = await failureOf(
        () => client.listVersions({ projectKey: 'NOPE', limit: 20 }),
        ProviderNotFoundError,
      );
      expect(error.message).toContain("No project could be found with key 'NOPE'.");
    });

    it('reports a 403 from the agile API as forbidden (only a 404 means no Jira Software)', async () => {
      jira.setBehaviour({ forbidden: /^GET \/rest\/agile\// });
      await failureOf(
        () => client.listVersions({ projectKey: 'WEB', limit: 20 }),
        ProviderForbiddenError,
      );
    });

    it('gives up on a 429 that never clears, with the wait Jira asked for', async () => {
      jira.setBehaviour({ rateLimitNext: { count: Infinity, retryAfterSeconds: 1 } });
      const error = await failureOf(
        () => client.listVersions({ projectKey: 'WEB', limit: 20 }),
        ProviderRateLimitError,
      );
      expect(error.retryAfterSeconds).toBe(1);
    });
  });

  describe('version and sprint filters', () => {
    it('filters by fix version name and by sprint id or name', async () => {
      const released = await client.searchIssues({ projectKey: 'WEB', version: '1.0', limit: 10 });
      expect(released.items.map((issue) => issue.title)).toEqual(['Cookie banner']);
      expect(lastSearch()?.jql).toBe(
        'project = "WEB" AND fixVersion = "1.0" ORDER BY updated DESC',
      );
      const sprint2 = defined(
        jira.state.sprints.find((sprint) => sprint.name === 'Sprint 2'),
        'sprint 2',
      );
      const inSprint = await client.searchIssues({ sprint: String(sprint2.id), limit: 10 });
      expect(inSprint.items.map((issue) => issue.title)).toEqual(['Hero image is blurry']);
      expect(lastSearch()?.jql).toBe(`sprint = ${sprint2.id} ORDER BY updated DESC`);
      const byName = await client.searchIssues({ sprint: 'Sprint 1', limit: 10 });
      expect(byName.items.map((issue) => issue.title)).toEqual(['Cookie banner']);
    });

    it('passes Jira’s message on for a version that does not exist', async () => {
      const error = await failureOf(
        () => client.searchIssues({ version: '9.9', limit: 10 }),
        ProviderValidationError,
      );
      expect(error.message).toContain("The value '9.9' does not exist for the field 'fixVersion'.");
    });
  });

  describe('fields', () => {
    it('asks Jira for only the fields wanted and names custom fields by their display name', async () => {
      const issue = await client.getIssue('WEB-1', { fields: ['title', 'story points', 'Risk'] });
      const request = jira.requests.at(-1);
      expect(request?.path).toBe(`${flavour.prefix}/issue/WEB-1`);
      expect(request?.query.fields).toBe('summary,customfield_10100,customfield_10101');
      expect(issue.title).toBe('Hero image is blurry');
      expect(issue.selectedFields).toEqual(['title']);
      expect(issue.extraFields).toEqual({ 'Story Points': 5, Risk: 'High' });
      // The field list is read once per client.
      await client.getIssue('WEB-2', { fields: ['Story Points'] });
      expect(jira.requests.filter((r) => r.path === `${flavour.prefix}/field`)).toHaveLength(1);
    });

    it('selects fields in a search too, system fields by id or name', async () => {
      const page = await client.searchIssues({
        projectKey: 'WEB',
        fields: ['status', 'Sprint', 'fixVersions'],
        limit: 10,
      });
      expect(lastSearch()?.fields).toBe('status,customfield_10020,fixVersions');
      const hero = page.items.find((issue) => issue.key === 'WEB-1');
      expect(hero?.extraFields).toEqual({ Sprint: ['Sprint 2'], 'Fix versions': ['1.1'] });
      expect(hero?.status.name).toBe('To Do');
    });

    it('lists the custom fields when a name matches none', async () => {
      const error = await failureOf(
        () => client.getIssue('WEB-1', { fields: ['Team'] }),
        ProviderValidationError,
      );
      expect(error.message).toBe(
        'Jira has no field named "Team". Custom fields: Sprint, Story Points, Risk.',
      );
    });

    it('bounds how many fields one call may ask for', async () => {
      const many = Array.from({ length: 31 }, (_, index) => `field ${index}`);
      const error = await failureOf(
        () => client.getIssue('WEB-1', { fields: many }),
        ProviderValidationError,
      );
      expect(error.message).toContain('at most 30 fields');
    });
  });
});
