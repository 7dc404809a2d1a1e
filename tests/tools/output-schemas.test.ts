/**
 * Every PM tool declares an outputSchema, and every result's structuredContent matches the schema
 * the client saw in tools/list (checked with Ajv, as a client would), on every provider type, for
 * success, partial failure (one provider down) and error.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readToolNames,
  writeToolNames,
  type ToolConnection,
} from '../../server/mcp/tools/index.js';
import type { FakeBehaviour, RecordedRequest } from '../fakes/fake-server.js';
import { startFakeJiraCloud } from '../fakes/jira-cloud.js';
import { defaultJiraUsers, type JiraFakeOptions } from '../fakes/jira-core.js';
import { startFakeJiraDataCenter } from '../fakes/jira-data-center.js';
import { defaultOpenProjectUsers, startFakeOpenProject } from '../fakes/openproject.js';
import { defined } from '../providers/support.js';
import {
  connectTools,
  contextOver,
  toolConnection,
  type ConnectedTools,
  type ToolCallOutcome,
} from './support.js';

interface RunningFake {
  url: string;
  requests: RecordedRequest[];
  setBehaviour(changes: Partial<FakeBehaviour>): void;
  stop(): Promise<void>;
}

type Outcome = 'success' | 'partial' | 'error';

const alice = defined(defaultJiraUsers[0], 'alice');
const carol = defined(defaultOpenProjectUsers[0], 'carol');
const jiraSeed: JiraFakeOptions = {
  projects: [{ key: 'WEB', name: 'Website' }],
  versions: [{ projectKey: 'WEB', name: '1.0' }],
  boards: [{ projectKey: 'WEB', name: 'Board', type: 'scrum' }],
  sprints: [{ board: 'Board', name: 'Sprint 1', state: 'active' }],
  customFields: [{ name: 'Story Points', type: 'number' }],
  issues: [
    {
      projectKey: 'WEB',
      summary: 'First',
      assignee: 'alice',
      comments: [{ author: 'bob', body: 'hi' }],
      customFields: { 'Story Points': 3 },
    },
    { projectKey: 'WEB', summary: 'Second' },
  ],
};

const cases = [
  {
    type: 'jira' as const,
    label: 'Jira Cloud',
    start: () => startFakeJiraCloud(jiraSeed),
    email: alice.email,
    token: alice.token,
    project: 'WEB',
    issue: 'WEB-1',
    other: 'WEB-2',
    status: 'In Progress',
    person: 'bob',
    linkType: 'Relates',
    field: 'Story Points',
  },
  {
    type: 'jira_server' as const,
    label: 'Jira Data Center',
    start: () => startFakeJiraDataCenter(jiraSeed),
    token: alice.token,
    project: 'WEB',
    issue: 'WEB-1',
    other: 'WEB-2',
    status: 'In Progress',
    person: 'bob',
    linkType: 'Relates',
    field: 'Story Points',
  },
  {
    type: 'openproject' as const,
    label: 'OpenProject',
    start: () =>
      startFakeOpenProject({
        projects: [{ identifier: 'web', name: 'Website' }],
        versions: [{ project: 'web', name: '1.0' }],
        customFields: [{ name: 'Story points', type: 'Integer' }],
        workPackages: [
          {
            project: 'web',
            subject: 'First',
            assignee: 'carol',
            comments: [{ author: 'dave', body: 'hi' }],
            customFields: { 'Story points': 3 },
          },
          { project: 'web', subject: 'Second' },
        ],
      }),
    token: carol.token,
    project: '1',
    issue: '1',
    other: '2',
    status: 'In progress',
    person: 'dave',
    linkType: 'relates',
    field: 'Story points',
  },
];

const allTools = [...readToolNames, ...writeToolNames];

describe.each(cases)('output schemas on $label', (providerCase) => {
  let live: RunningFake;
  let down: RunningFake;
  let liveConnection: ToolConnection;
  let downConnection: ToolConnection;
  let tools: ConnectedTools;
  let empty: ConnectedTools;
  const validators = new Map<string, ValidateFunction>();
  const covered = new Set<string>();
  const liveId = (key: string): string => `${liveConnection.id}:${key}`;
  const downId = (key: string): string => `${downConnection.id}:${key}`;

  /** Calls a tool and checks its structuredContent against the schema tools/list gave. */
  async function check(
    outcome: Outcome,
    tool: string,
    args: Record<string, unknown> = {},
    through: ConnectedTools = tools,
  ): Promise<ToolCallOutcome> {
    const result = await through.call(tool, args);
    const validate = defined(validators.get(tool), `the output schema of ${tool}`);
    const valid = validate(result.structured);
    expect(
      valid,
      `${tool} (${outcome}): ${JSON.stringify(validate.errors)} in ${JSON.stringify(result.structured)}`,
    ).toBe(true);
    expect(result.isError, `${tool} (${outcome}) isError`).toBe(outcome === 'error');
    covered.add(`${tool}:${outcome}`);
    return result;
  }

  beforeAll(async () => {
    [live, down] = await Promise.all([providerCase.start(), providerCase.start()]);
    down.setBehaviour({ alwaysUnavailable: true });
    const spec = {
      providerType: providerCase.type,
      ...(providerCase.email ? { email: providerCase.email } : {}),
      apiToken: providerCase.token,
    };
    liveConnection = toolConnection({ ...spec, name: 'Live', baseUrl: live.url });
    downConnection = toolConnection({ ...spec, name: 'Down', baseUrl: down.url });
    tools = await connectTools(contextOver([liveConnection, downConnection]));
    empty = await connectTools(contextOver([]));
    const { tools: listed } = await tools.client.listTools();
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    for (const tool of listed) {
      expect(tool.outputSchema, `${tool.name} declares an outputSchema`).toBeDefined();
      expect(tool.outputSchema?.type).toBe('object');
      validators.set(tool.name, ajv.compile(tool.outputSchema ?? {}));
    }
    expect([...validators.keys()].sort()).toEqual([...allTools].sort());
  });
  afterAll(async () => {
    await tools.close();
    await empty.close();
    await Promise.all([live.stop(), down.stop()]);
  });

  it('read tools: success, one provider down, and errors', async () => {
    await check('success', 'list_providers', { check: false });
    await check('partial', 'list_providers', { check: true });
    await check('error', 'list_providers', {}, empty);

    await check('success', 'list_projects', { provider: 'Live' });
    const partial = await check('partial', 'list_projects');
    expect((partial.structured.errors as unknown[]).length).toBe(1);
    await check('error', 'list_projects', { provider: 'Down' });

    await check('success', 'search_issues', {
      project_id: liveId(providerCase.project),
      fields: ['title', providerCase.field],
    });
    await check('partial', 'search_issues', { text: 'First' });
    await check('error', 'search_issues', { provider: 'nobody' });

    await check('success', 'list_my_issues', { provider: 'Live' });
    await check('partial', 'list_my_issues');
    await check('error', 'list_my_issues', { cursor: 'not-a-cursor' });

    await check('success', 'get_issue', { id: liveId(providerCase.issue) });
    await check('success', 'get_issue', {
      id: liveId(providerCase.issue),
      fields: ['status', providerCase.field],
    });
    await check('error', 'get_issue', { id: downId(providerCase.issue) });
    await check('error', 'get_issue', { id: 'no-colon' });

    await check('success', 'find_users', { query: providerCase.person, provider: 'Live' });
    await check('partial', 'find_users', { query: providerCase.person });
    await check('error', 'find_users', { query: providerCase.person, provider: 'Down' });

    await check('success', 'list_versions', { project_id: liveId(providerCase.project) });
    await check('error', 'list_versions', { project_id: downId(providerCase.project) });
    await check('error', 'list_versions', { project_id: liveId('NOPE') });
  });

  it('write tools: success and errors (a write goes to one provider: down is an error)', async () => {
    await check('success', 'create_issue', {
      project_id: liveId(providerCase.project),
      title: 'Made by the schema test',
      description: 'Some **markdown**',
    });
    await check('error', 'create_issue', {
      project_id: downId(providerCase.project),
      title: 'Nowhere',
    });

    await check('success', 'update_issue', { id: liveId(providerCase.other), title: 'Second!' });
    await check('error', 'update_issue', { id: liveId(providerCase.other) });

    await check('success', 'transition_issue', {
      id: liveId(providerCase.issue),
      status: providerCase.status,
    });
    const unknown = await check('error', 'transition_issue', {
      id: liveId(providerCase.issue),
      status: 'Nowhere',
    });
    expect(unknown.structured.error).toMatchObject({ error_code: 'unknown_status' });

    await check('success', 'add_comment', { id: liveId(providerCase.issue), body: 'Noted.' });
    await check('error', 'add_comment', { id: downId(providerCase.issue), body: 'Lost.' });

    await check('success', 'log_work', {
      id: liveId(providerCase.issue),
      time_spent: '2h',
      comment: 'Work',
    });
    await check('error', 'log_work', { id: liveId(providerCase.issue), time_spent: 'soon' });
    await check('error', 'log_work', { id: downId(providerCase.issue), time_spent: '1h' });

    await check('success', 'link_issues', {
      from_id: liveId(providerCase.issue),
      to_id: liveId(providerCase.other),
      type: providerCase.linkType,
    });
    await check('error', 'link_issues', {
      from_id: liveId(providerCase.issue),
      to_id: liveId(providerCase.other),
      type: 'nonsense',
    });
    const across = await check('error', 'link_issues', {
      from_id: liveId(providerCase.issue),
      to_id: downId(providerCase.other),
      type: providerCase.linkType,
    });
    expect(across.structured.error).toMatchObject({ error_code: 'invalid_arguments' });
    expect(across.text).toContain('Both issues must be on the same connection');
  });

  it('covered every tool with success and error, and every fan-out tool with one provider down', () => {
    const fanOutTools = ['list_providers', 'list_projects', 'search_issues', 'list_my_issues'];
    const expected = [
      ...allTools.flatMap((tool) => [`${tool}:success`, `${tool}:error`]),
      ...[...fanOutTools, 'find_users'].map((tool) => `${tool}:partial`),
    ];
    expect([...covered].sort()).toEqual(expected.sort());
  });
});
