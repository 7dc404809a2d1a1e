/**
 * find users (principals), log work (time entries), link issues (relations), list versions, the
 * version filter and field selection on OpenProject (API v3), against the fake.
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
import {
  defaultOpenProjectUsers,
  startFakeOpenProject,
  type OpenProjectFake,
  type OpenProjectFakeUser,
} from '../fakes/openproject.js';
import { defined, elapsedSince, failureOf, fastHttp } from './support.js';

const carol = defined(defaultOpenProjectUsers[0], 'carol');
const dave = defined(defaultOpenProjectUsers[1], 'dave');
const testers: OpenProjectFakeUser[] = Array.from({ length: 5 }, (_, index) => ({
  id: 20 + index,
  login: `tester${index + 1}`,
  firstName: 'Tester',
  lastName: String(index + 1),
  email: `tester${index + 1}@example.com`,
  token: `op-key-tester-${index + 1}`,
}));

describe('OpenProject client: the next operations against the fake', () => {
  let openProject: OpenProjectFake;
  let client: ProviderClient;

  beforeAll(async () => {
    openProject = await startFakeOpenProject({
      users: [carol, dave, ...testers],
      projects: [
        { identifier: 'office-move', name: 'Office move' },
        { identifier: 'hiring', name: 'Hiring' },
      ],
      versions: [
        { project: 'office-move', name: 'Phase 1', status: 'closed', endDate: '2026-01-31' },
        { project: 'office-move', name: 'Phase 2', startDate: '2026-02-01', description: 'Boxes' },
        { project: 'office-move', name: 'Sprint 7', status: 'locked' },
        { project: 'hiring', name: 'Q1' },
      ],
      customFields: [
        { name: 'Story points', type: 'Integer' },
        { name: 'Budget code', type: 'String' },
      ],
      workPackages: [
        {
          project: 'office-move',
          subject: 'Order boxes',
          version: 'Phase 2',
          assignee: 'carol',
          customFields: { 'Story points': 3, 'Budget code': 'FAC-12' },
        },
        { project: 'office-move', subject: 'Sign the lease', version: 'Phase 1' },
        { project: 'office-move', subject: 'Book movers' },
        { project: 'hiring', subject: 'Post the job', version: 'Q1' },
      ],
    });
    client = createProviderClient(
      { providerType: 'openproject', baseUrl: openProject.url, apiToken: carol.token },
      fastHttp,
    );
  });
  afterAll(async () => {
    await openProject.stop();
  });
  beforeEach(() => {
    openProject.setBehaviour({
      latencyMs: 0,
      rateLimitNext: null,
      alwaysUnavailable: false,
      deadToken: false,
      forbidden: null,
    });
    openProject.requests.length = 0;
  });

  describe('findUsers', () => {
    it('searches principals by any name attribute, users only', async () => {
      const page = await client.findUsers({ query: 'dave@example', limit: 10 });
      expect(page.items).toEqual([
        { id: '6', displayName: 'Dave Other', email: dave.email, login: 'dave', active: true },
      ]);
      const request = openProject.requests.at(-1);
      expect(request?.path).toBe('/api/v3/principals');
      expect(JSON.parse(String(request?.query.filters))).toEqual([
        { any_name_attribute: { operator: '~', values: ['dave@example'] } },
        { type: { operator: '=', values: ['User'] } },
      ]);
      // The group "Developers" matches "dev" by name but is not a user.
      const groups = await client.findUsers({ query: 'Developers', limit: 10 });
      expect(groups.items).toEqual([]);
    });

    it('pages by page number with a total', async () => {
      const first = await client.findUsers({ query: 'tester', limit: 2 });
      expect(first.total).toBe(5);
      const logins = first.items.map((user) => user.login);
      let cursor = first.nextCursor ?? undefined;
      while (cursor) {
        const page = await client.findUsers({ query: 'tester', limit: 2, cursor });
        logins.push(...page.items.map((user) => user.login));
        cursor = page.nextCursor ?? undefined;
      }
      expect(logins).toEqual(testers.map((user) => user.login));
      expect(openProject.requests.map((request) => request.query.offset)).toEqual(['1', '2', '3']);
    });

    it('reports a 403 MissingPermission as forbidden with OpenProject’s message', async () => {
      openProject.setBehaviour({ forbidden: /^GET \/api\/v3\/principals$/ });
      const error = await failureOf(
        () => client.findUsers({ query: 'dave', limit: 10 }),
        ProviderForbiddenError,
      );
      expect(error.message).toContain('You are not authorized to access this resource.');
    });

    it('waits out a 429 with Retry-After and then answers', async () => {
      openProject.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 1 } });
      const started = performance.now();
      const page = await client.findUsers({ query: 'carol', limit: 10 });
      expect(page.items.map((user) => user.login)).toEqual(['carol']);
      expect(elapsedSince(started)).toBeGreaterThanOrEqual(950);
    });
  });

  describe('logWork', () => {
    it('creates a time entry with an ISO 8601 duration, the day, the comment and the work package', async () => {
      const log = await client.logWork('#1', {
        timeSpentSeconds: 5400,
        comment: 'Counted boxes',
        started: '2026-03-02',
      });
      expect(log).toEqual({
        id: expect.any(String) as string,
        issueKey: '1',
        timeSpentSeconds: 5400,
        spentOn: '2026-03-02',
        comment: 'Counted boxes',
        author: { id: '5', displayName: 'Carol Example' },
        activity: 'Development',
      });
      const request = openProject.requests.at(-1);
      expect(request?.path).toBe('/api/v3/time_entries');
      expect(request?.body).toEqual({
        hours: 'PT1H30M',
        spentOn: '2026-03-02',
        comment: { raw: 'Counted boxes' },
        _links: {
          entity: { href: '/api/v3/work_packages/1' },
          workPackage: { href: '/api/v3/work_packages/1' },
        },
      });
      expect(openProject.state.timeEntries.at(-1)).toMatchObject({ hours: 'PT1H30M', userId: 5 });
    });

    it('names the activity through the time entry form, and lists them when none matches', async () => {
      const log = await client.logWork('1', { timeSpentSeconds: 900, activity: 'testing' });
      expect(log.activity).toBe('Testing');
      expect(openProject.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        'POST /api/v3/time_entries/form',
        'POST /api/v3/time_entries',
      ]);
      const error = await failureOf(
        () => client.logWork('1', { timeSpentSeconds: 900, activity: 'Coffee' }),
        ProviderValidationError,
      );
      expect(error.message).toBe(
        'OpenProject has no time entry activity "Coffee" here. Activities: Management, Specification, Development, Testing.',
      );
    });

    it('passes OpenProject’s 422 on when the instance has no default activity', async () => {
      const activities = openProject.state.timeEntryActivities;
      const saved = activities.map((activity) => ({ ...activity }));
      for (const activity of activities) activity.isDefault = false;
      try {
        const error = await failureOf(
          () => client.logWork('1', { timeSpentSeconds: 900 }),
          ProviderValidationError,
        );
        expect(error.message).toContain("Activity can't be blank.");
      } finally {
        activities.splice(0, activities.length, ...saved);
      }
    });

    it('reports a work package that does not exist (422 from OpenProject) and refuses bad input first', async () => {
      const error = await failureOf(
        () => client.logWork('999', { timeSpentSeconds: 600 }),
        ProviderValidationError,
      );
      expect(error.message).toContain('Work package is invalid.');
      openProject.requests.length = 0;
      await failureOf(() => client.logWork('1', { timeSpentSeconds: 10 }), ProviderValidationError);
      await failureOf(
        () => client.logWork('PROJ-1', { timeSpentSeconds: 600 }),
        ProviderValidationError,
      );
      expect(openProject.requests).toHaveLength(0);
    });

    it('reports a 403 MissingPermission (no "log time" permission) as forbidden', async () => {
      openProject.setBehaviour({ forbidden: /^POST \/api\/v3\/time_entries$/ });
      await failureOf(() => client.logWork('1', { timeSpentSeconds: 600 }), ProviderForbiddenError);
    });

    it('gives up when Retry-After is beyond what it waits, and logs nothing twice', async () => {
      const before = openProject.state.timeEntries.length;
      openProject.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 60 } });
      const error = await failureOf(
        () => client.logWork('1', { timeSpentSeconds: 600 }),
        ProviderRateLimitError,
      );
      expect(error.retryAfterSeconds).toBe(60);
      expect(openProject.state.timeEntries).toHaveLength(before);
    });
  });

  describe('linkIssues', () => {
    it('creates a relation from the first work package to the second', async () => {
      const link = await client.linkIssues({
        fromKey: '1',
        toKey: '3',
        type: 'blocks',
        comment: 'Boxes before movers',
      });
      expect(link).toEqual({
        id: expect.any(String) as string,
        description: 'blocks',
        type: 'blocks',
        fromKey: '1',
        toKey: '3',
      });
      const request = openProject.requests.at(-1);
      expect(request?.path).toBe('/api/v3/work_packages/1/relations');
      expect(request?.body).toEqual({
        type: 'blocks',
        description: 'Boxes before movers',
        _links: {
          from: { href: '/api/v3/work_packages/1' },
          to: { href: '/api/v3/work_packages/3' },
        },
      });
    });

    it('reports what OpenProject stored when it turns a relation round (precedes → follows)', async () => {
      const link = await client.linkIssues({ fromKey: '2', toKey: '1', type: 'precedes' });
      expect(link).toMatchObject({
        type: 'follows',
        description: 'follows',
        fromKey: '1',
        toKey: '2',
      });
    });

    it('takes spoken forms of the type and lists the types when none matches', async () => {
      const link = await client.linkIssues({ fromKey: '2', toKey: '3', type: 'Relates to' });
      expect(link.type).toBe('relates');
      const error = await failureOf(
        () => client.linkIssues({ fromKey: '1', toKey: '2', type: 'causes' }),
        ProviderValidationError,
      );
      expect(error.message).toBe(
        'OpenProject has no relation type "causes". Relation types: relates, duplicates, duplicated, blocks, blocked, precedes, follows, includes, partof, requires, required.',
      );
    });

    it('passes OpenProject’s 422 on for a relation that already exists', async () => {
      const error = await failureOf(
        () => client.linkIssues({ fromKey: '3', toKey: '1', type: 'relates' }),
        ProviderValidationError,
      );
      expect(error.message).toContain('Relation already exists');
    });

    it('reports a work package that does not exist as not found (404)', async () => {
      await failureOf(
        () => client.linkIssues({ fromKey: '404', toKey: '1', type: 'relates' }),
        ProviderNotFoundError,
      );
    });

    it('reports a 403 MissingPermission as forbidden', async () => {
      openProject.setBehaviour({ forbidden: /\/relations$/ });
      await failureOf(
        () => client.linkIssues({ fromKey: '4', toKey: '1', type: 'relates' }),
        ProviderForbiddenError,
      );
    });

    it('waits out a 429 with Retry-After and then links', async () => {
      openProject.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 1 } });
      const link = await client.linkIssues({ fromKey: '4', toKey: '2', type: 'requires' });
      expect(link.type).toBe('requires');
      expect(openProject.requests).toHaveLength(2);
    });
  });

  describe('listVersions', () => {
    it('lists the project’s versions, open ones first; OpenProject has no separate sprints', async () => {
      const page = await client.listVersions({ projectKey: 'office-move', limit: 10 });
      expect(page.sprintsAvailable).toBe(false);
      expect(page.items.map((version) => [version.name, version.state])).toEqual([
        ['Phase 2', 'open'],
        ['Sprint 7', 'locked'],
        ['Phase 1', 'closed'],
      ]);
      expect(page.items[0]).toMatchObject({
        kind: 'version',
        description: 'Boxes',
        startDate: '2026-02-01',
      });
      expect(openProject.requests.at(-1)?.path).toBe('/api/v3/projects/office-move/versions');
    });

    it('pages with a cursor', async () => {
      const first = await client.listVersions({ projectKey: '1', limit: 2 });
      expect(first.total).toBe(3);
      const second = await client.listVersions({
        projectKey: '1',
        limit: 2,
        cursor: first.nextCursor ?? undefined,
      });
      expect(second.items.map((version) => version.name)).toEqual(['Phase 1']);
      expect(second.nextCursor).toBeNull();
    });

    it('reports an unknown project as not found (404), a 403 as forbidden, and honours 429', async () => {
      await failureOf(
        () => client.listVersions({ projectKey: 'nope', limit: 10 }),
        ProviderNotFoundError,
      );
      openProject.setBehaviour({ forbidden: /\/versions$/ });
      await failureOf(
        () => client.listVersions({ projectKey: 'hiring', limit: 10 }),
        ProviderForbiddenError,
      );
      openProject.setBehaviour({
        forbidden: null,
        rateLimitNext: { count: 1, retryAfterSeconds: 1 },
      });
      const page = await client.listVersions({ projectKey: 'hiring', limit: 10 });
      expect(page.items.map((version) => version.name)).toEqual(['Q1']);
    });
  });

  describe('version filter', () => {
    it('filters work packages by version name (resolved in the project) or id', async () => {
      const page = await client.searchIssues({
        projectKey: 'office-move',
        version: 'phase 2',
        limit: 10,
      });
      expect(page.items.map((issue) => issue.title)).toEqual(['Order boxes']);
      const search = openProject.requests.findLast((request) =>
        request.path.endsWith('/work_packages'),
      );
      expect(search?.path).toBe('/api/v3/projects/office-move/work_packages');
      expect(JSON.parse(String(search?.query.filters))).toContainEqual({
        version: { operator: '=', values: ['2'] },
      });
      const bySprint = await client.searchIssues({ sprint: '3', limit: 10 });
      expect(bySprint.items).toEqual([]);
      const anywhere = await client.searchIssues({ version: 'Q1', limit: 10 });
      expect(anywhere.items.map((issue) => issue.title)).toEqual(['Post the job']);
      expect(openProject.requests.some((request) => request.path === '/api/v3/versions')).toBe(
        true,
      );
    });

    it('lists the versions when the name matches none', async () => {
      const error = await failureOf(
        () => client.searchIssues({ projectKey: 'hiring', version: 'Q9', limit: 10 }),
        ProviderValidationError,
      );
      expect(error.message).toBe(
        'OpenProject has no version named "Q9" in this project. Versions: Q1.',
      );
    });
  });

  describe('fields', () => {
    it('names custom fields as the work package schema does, and skips the comments when not asked', async () => {
      const issue = await client.getIssue('1', {
        fields: ['status', 'story points', 'customField4'],
      });
      expect(issue.selectedFields).toEqual(['status']);
      expect(issue.extraFields).toEqual({ 'Story points': 3, 'Budget code': 'FAC-12' });
      const paths = openProject.requests.map((request) => request.path);
      expect(paths).toContain('/api/v3/work_packages/schemas/1-1');
      expect(paths).not.toContain('/api/v3/work_packages/1/activities');
    });

    it('selects fields in a search from the same page (no request per work package)', async () => {
      const page = await client.searchIssues({
        projectKey: 'office-move',
        fields: ['title', 'Budget code'],
        limit: 10,
      });
      const boxes = page.items.find((issue) => issue.title === 'Order boxes');
      expect(boxes?.extraFields).toEqual({ 'Budget code': 'FAC-12' });
      expect(page.items.find((issue) => issue.title === 'Book movers')?.extraFields).toEqual({
        'Budget code': null,
      });
      expect(
        openProject.requests.filter((request) =>
          /^\/api\/v3\/work_packages\/\d+$/.test(request.path),
        ),
      ).toHaveLength(0);
    });

    it('lists the custom fields when a name matches none', async () => {
      const error = await failureOf(
        () => client.getIssue('1', { fields: ['Team'] }),
        ProviderValidationError,
      );
      expect(error.message).toBe(
        'OpenProject has no field named "Team" here. Custom fields: Story points, Budget code.',
      );
    });
  });
});
