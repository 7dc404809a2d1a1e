/**
 * find_users, list_versions, log_work and link_issues (and fields / version filters) through MCP,
 * against the fakes of Jira Cloud, Jira Data Center and OpenProject, in both protocol eras,
 * including the providers' 403, 404 and 429 with Retry-After.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ToolConnection } from '../../server/mcp/tools/index.js';
import type { FakeBehaviour, RecordedRequest } from '../fakes/fake-server.js';
import { startFakeJiraCloud } from '../fakes/jira-cloud.js';
import { defaultJiraUsers, type JiraFakeOptions } from '../fakes/jira-core.js';
import { startFakeJiraDataCenter } from '../fakes/jira-data-center.js';
import { defaultOpenProjectUsers, startFakeOpenProject } from '../fakes/openproject.js';
import { defined } from '../providers/support.js';
import { protocolEras } from '../support/mcp.js';
import { closeToolsOverFake, openToolsOverFake, type ConnectedTools } from './support.js';

interface RunningFake {
  url: string;
  requests: RecordedRequest[];
  setBehaviour(changes: Partial<FakeBehaviour>): void;
  stop(): Promise<void>;
}

interface ProviderCase {
  type: 'jira' | 'jira_server' | 'openproject';
  label: string;
  start(): Promise<RunningFake>;
  email?: string;
  token: string;
  projectKey: string;
  /** The issue in version "2.0" with Story Points 8; and a second issue to link to it. */
  issueKey: string;
  otherKey: string;
  missingKey: string;
  person: { query: string; displayName: string; assignAs: string };
  linkType: string;
  linkDescription: string;
  versionNames: string[];
  sprintsAvailable: boolean;
  pointsField: string;
  /** Requests the fake answers with 403 for log_work. */
  logWorkPath: RegExp;
}

const alice = defined(defaultJiraUsers[0], 'alice');
const bob = defined(defaultJiraUsers[1], 'bob');
const carol = defined(defaultOpenProjectUsers[0], 'carol');
const dave = defined(defaultOpenProjectUsers[1], 'dave');

const jiraSeed: JiraFakeOptions = {
  projects: [{ key: 'WEB', name: 'Website' }],
  versions: [
    { projectKey: 'WEB', name: '1.0', released: true },
    { projectKey: 'WEB', name: '2.0' },
  ],
  boards: [{ projectKey: 'WEB', name: 'WEB board', type: 'scrum' }],
  sprints: [{ board: 'WEB board', name: 'Sprint 4', state: 'active' }],
  customFields: [{ name: 'Story Points', type: 'number' }],
  issues: [
    {
      projectKey: 'WEB',
      summary: 'Checkout flow',
      fixVersions: ['2.0'],
      sprint: 'Sprint 4',
      assignee: 'alice',
      customFields: { 'Story Points': 8 },
    },
    { projectKey: 'WEB', summary: 'Payment page', fixVersions: ['1.0'] },
  ],
};

const jiraCase = {
  projectKey: 'WEB',
  issueKey: 'WEB-1',
  otherKey: 'WEB-2',
  missingKey: 'WEB-99',
  linkType: 'is blocked by',
  linkDescription: 'is blocked by',
  pointsField: 'Story Points',
};

const cases: ProviderCase[] = [
  {
    ...jiraCase,
    type: 'jira',
    label: 'Jira Cloud',
    start: () => startFakeJiraCloud(jiraSeed),
    email: alice.email,
    token: alice.token,
    person: { query: 'bob', displayName: 'Bob Builder', assignAs: bob.email },
    versionNames: ['Sprint 4', '2.0', '1.0'],
    sprintsAvailable: true,
    logWorkPath: /^POST \/rest\/api\/3\/issue\/WEB-1\/worklog$/,
  },
  {
    ...jiraCase,
    type: 'jira_server',
    label: 'Jira Data Center',
    start: () => startFakeJiraDataCenter(jiraSeed),
    token: alice.token,
    person: { query: 'bob', displayName: 'Bob Builder', assignAs: bob.email },
    versionNames: ['Sprint 4', '2.0', '1.0'],
    sprintsAvailable: true,
    logWorkPath: /^POST \/rest\/api\/2\/issue\/WEB-1\/worklog$/,
  },
  {
    type: 'openproject',
    label: 'OpenProject',
    start: () =>
      startFakeOpenProject({
        projects: [{ identifier: 'web', name: 'Website' }],
        versions: [
          { project: 'web', name: '1.0', status: 'closed' },
          { project: 'web', name: '2.0' },
        ],
        customFields: [{ name: 'Story points', type: 'Integer' }],
        workPackages: [
          {
            project: 'web',
            subject: 'Checkout flow',
            version: '2.0',
            assignee: 'carol',
            customFields: { 'Story points': 8 },
          },
          { project: 'web', subject: 'Payment page', version: '1.0' },
        ],
      }),
    token: carol.token,
    projectKey: '1',
    issueKey: '1',
    otherKey: '2',
    missingKey: '99',
    person: { query: 'dave', displayName: 'Dave Other', assignAs: dave.email },
    linkType: 'blocked',
    // OpenProject stores "1 blocked by 2" as "2 blocks 1" and says so.
    linkDescription: 'blocks',
    versionNames: ['2.0', '1.0'],
    sprintsAvailable: false,
    pointsField: 'Story points',
    logWorkPath: /^POST \/api\/v3\/time_entries$/,
  },
];

interface ErrorResult {
  error: { error_code: string; message: string };
}

const casesByEra = cases.flatMap((providerCase) =>
  protocolEras.map((era) => ({ ...providerCase, era })),
);

describe.each(casesByEra)('the next tools against $label, $era era', (providerCase) => {
  let fake: RunningFake;
  let connection: ToolConnection;
  let tools: ConnectedTools;
  const id = (key: string): string => `${connection.id}:${key}`;

  beforeAll(async () => {
    ({ fake, connection, tools } = await openToolsOverFake(providerCase));
  });
  afterAll(() => closeToolsOverFake({ fake, connection, tools }, providerCase.token));
  beforeEach(() => {
    fake.setBehaviour({ rateLimitNext: null, forbidden: null });
  });

  it('find_users finds a person and says what to assign them as', async () => {
    const result = await tools.call<{
      users: { display_name: string; assign_as: string; connection_id: string }[];
    }>('find_users', { query: providerCase.person.query });
    expect(result.isError).toBe(false);
    expect(result.structured.users).toEqual([
      expect.objectContaining({
        display_name: providerCase.person.displayName,
        assign_as: providerCase.person.assignAs,
        connection_id: connection.id,
      }),
    ]);
    expect(result.text).toContain(`assign as "${providerCase.person.assignAs}"`);
    // assign_as is what the write tools' assignee lookup takes.
    const updated = await tools.call<{ issue: { assignee: string } }>('update_issue', {
      id: id(providerCase.otherKey),
      assignee: result.structured.users[0]?.assign_as,
    });
    expect(updated.structured.issue.assignee).toBe(providerCase.person.displayName);
  });

  it('find_users waits out a 429 with Retry-After and answers', async () => {
    fake.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 1 } });
    const started = performance.now();
    const result = await tools.call<{ users: unknown[] }>('find_users', {
      query: providerCase.person.query,
    });
    expect(result.isError).toBe(false);
    expect(result.structured.users).toHaveLength(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('list_versions lists releases (and sprints where there are any) with their search filter', async () => {
    const result = await tools.call<{
      versions: { name: string; kind: string; filter: Record<string, string> }[];
      sprints_available: boolean;
      project_id: string;
    }>('list_versions', { project_id: id(providerCase.projectKey) });
    expect(result.isError).toBe(false);
    expect(result.structured.versions.map((version) => version.name)).toEqual(
      providerCase.versionNames,
    );
    expect(result.structured.sprints_available).toBe(providerCase.sprintsAvailable);
    const release = defined(
      result.structured.versions.find((version) => version.name === '2.0'),
      'version 2.0',
    );
    const found = await tools.call<{ issues: { title: string }[] }>('search_issues', {
      project_id: id(providerCase.projectKey),
      ...release.filter,
    });
    expect(found.structured.issues.map((issue) => issue.title)).toEqual(['Checkout flow']);
    if (providerCase.sprintsAvailable) {
      const sprint = defined(
        result.structured.versions.find((version) => version.kind === 'sprint'),
        'a sprint',
      );
      const inSprint = await tools.call<{ issues: { title: string }[] }>('search_issues', {
        ...sprint.filter,
      });
      expect(inSprint.structured.issues.map((issue) => issue.title)).toEqual(['Checkout flow']);
    }
  });

  it('list_versions reports an unknown project as not found (404)', async () => {
    const result = await tools.call<ErrorResult>('list_versions', {
      project_id: id('NOPE'),
    });
    expect(result.isError).toBe(true);
    expect(result.structured.error.error_code).toBe('provider_not_found');
  });

  it('get_issue and search_issues return only the fields asked for, custom fields by name', async () => {
    const result = await tools.call<{ issue: Record<string, unknown> }>('get_issue', {
      id: id(providerCase.issueKey),
      fields: ['title', providerCase.pointsField.toLowerCase()],
    });
    expect(result.isError).toBe(false);
    expect(result.structured.issue).toMatchObject({
      id: id(providerCase.issueKey),
      title: 'Checkout flow',
      fields: { [providerCase.pointsField]: 8 },
    });
    expect(result.structured.issue).not.toHaveProperty('description');
    expect(result.structured.issue).not.toHaveProperty('comments');
    expect(result.text).toContain(`${providerCase.pointsField}: 8`);
    const search = await tools.call<{ issues: Record<string, unknown>[] }>('search_issues', {
      project_id: id(providerCase.projectKey),
      fields: ['status'],
    });
    expect(search.structured.issues).toHaveLength(2);
    for (const issue of search.structured.issues) {
      expect(Object.keys(issue).sort()).toEqual(
        [
          'connection_id',
          'connection_name',
          'fields',
          'id',
          'is_closed',
          'key',
          'provider_type',
          'status',
          'status_category',
          'url',
        ].sort(),
      );
    }
  });

  it('log_work records the time with its day and comment', async () => {
    const result = await tools.call<{
      work_log: { issue_id: string; time_spent_seconds: number; spent_on: string };
    }>('log_work', {
      id: id(providerCase.issueKey),
      time_spent: '1h 30m',
      date: '2026-03-02',
      comment: 'Reviewed the flow',
    });
    expect(result.isError).toBe(false);
    expect(result.structured.work_log).toMatchObject({
      issue_id: id(providerCase.issueKey),
      time_spent_seconds: 5400,
      spent_on: '2026-03-02',
    });
    expect(result.text).toBe(
      `Logged 1h 30m on ${id(providerCase.issueKey)} for 2026-03-02${providerCase.type === 'openproject' ? ' (Development)' : ''}: Reviewed the flow`,
    );
  });

  it('log_work refuses a time it cannot read before calling the provider', async () => {
    const before = fake.requests.length;
    const result = await tools.call<ErrorResult>('log_work', {
      id: id(providerCase.issueKey),
      time_spent: 'a while',
    });
    expect(result.isError).toBe(true);
    expect(result.structured.error.error_code).toBe('invalid_arguments');
    expect(fake.requests.length).toBe(before);
  });

  it('log_work reports the provider’s 403 as a permission problem', async () => {
    fake.setBehaviour({ forbidden: providerCase.logWorkPath });
    const result = await tools.call<ErrorResult>('log_work', {
      id: id(providerCase.issueKey),
      time_spent: '15m',
    });
    expect(result.isError).toBe(true);
    expect(result.structured.error.error_code).toBe('provider_forbidden');
    expect(result.text).toContain('lacks the permission');
  });

  it('log_work gives up on a Retry-After longer than it waits, saying when to try again', async () => {
    fake.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 30 } });
    const result = await tools.call<ErrorResult>('log_work', {
      id: id(providerCase.issueKey),
      time_spent: '15m',
    });
    expect(result.isError).toBe(true);
    expect(result.structured.error.error_code).toBe('provider_rate_limited');
    expect(result.text).toContain('Try again in 30 s');
  });

  it('link_issues relates two issues by type name', async () => {
    const result = await tools.call<{
      link: { from_id: string; to_id: string; description: string };
    }>('link_issues', {
      from_id: id(providerCase.issueKey),
      to_id: id(providerCase.otherKey),
      type: providerCase.linkType,
    });
    expect(result.isError).toBe(false);
    expect(result.structured.link.description).toBe(providerCase.linkDescription);
    expect([result.structured.link.from_id, result.structured.link.to_id].sort()).toEqual(
      [id(providerCase.issueKey), id(providerCase.otherKey)].sort(),
    );
  });

  it('link_issues lists the types when the name matches none', async () => {
    const result = await tools.call<ErrorResult>('link_issues', {
      from_id: id(providerCase.issueKey),
      to_id: id(providerCase.otherKey),
      type: 'causes',
    });
    expect(result.isError).toBe(true);
    expect(result.structured.error.error_code).toBe('provider_validation_failed');
    expect(result.text).toMatch(/Link types: Blocks|Relation types: relates/);
  });

  it('link_issues reports an issue that does not exist (404)', async () => {
    const result = await tools.call<ErrorResult>('link_issues', {
      from_id: id(providerCase.missingKey),
      to_id: id(providerCase.otherKey),
      type: providerCase.type === 'openproject' ? 'relates' : 'Relates',
    });
    expect(result.isError).toBe(true);
    expect(result.structured.error.error_code).toBe('provider_not_found');
  });

  it('link_issues reports an issue on a connection that is not yours as not found', async () => {
    const result = await tools.call<ErrorResult>('link_issues', {
      from_id: id(providerCase.issueKey),
      to_id: `${connection.id.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))}:${providerCase.otherKey}`,
      type: 'relates',
    });
    expect(result.isError).toBe(true);
    expect(result.structured.error.error_code).toBe('not_found');
  });
});
