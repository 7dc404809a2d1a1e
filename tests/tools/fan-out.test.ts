import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ToolConnection } from '../../server/mcp/tools/index.js';
import {
  defaultJiraUsers,
  seedJiraProjects,
  startFakeJiraCloud,
  type JiraFake,
} from '../fakes/jira-cloud.js';
import { startFakeJiraDataCenter } from '../fakes/jira-data-center.js';
import {
  defaultOpenProjectUsers,
  startFakeOpenProject,
  type OpenProjectFake,
} from '../fakes/openproject.js';
import { defined } from '../providers/support.js';
import {
  connectionsToEachFake,
  connectTools,
  contextOver,
  toolConnection,
  type ConnectedTools,
} from './support.js';

const alice = defined(defaultJiraUsers[0], 'alice');
const carol = defined(defaultOpenProjectUsers[0], 'carol');

interface ListResult {
  projects?: { id: string; connection_id: string }[];
  issues?: { id: string; connection_id: string }[];
  errors: { connection_id: string; name: string; error_code: string; message: string }[];
  next_cursor: string | null;
  error?: { error_code: string; message: string };
}

describe('fan-out across providers', () => {
  let cloud: JiraFake;
  let dataCenter: JiraFake;
  let op: OpenProjectFake;
  let connections: ToolConnection[];
  let tools: ConnectedTools;
  const timeoutMs = 1_500;

  beforeAll(async () => {
    cloud = await startFakeJiraCloud({
      projects: seedJiraProjects(3, 'C'),
      issues: [{ projectKey: 'C001', summary: 'Cloud bug', assignee: 'alice' }],
    });
    dataCenter = await startFakeJiraDataCenter({
      projects: seedJiraProjects(3, 'D'),
      issues: [{ projectKey: 'D001', summary: 'DC bug', assignee: 'alice' }],
    });
    op = await startFakeOpenProject({
      projects: [{ identifier: 'ops', name: 'Ops' }],
      workPackages: [{ project: 'ops', subject: 'OP task', assignee: 'carol' }],
    });
    connections = connectionsToEachFake(
      { cloud: cloud.url, dataCenter: dataCenter.url, openProject: op.url },
      { jira: alice, openProject: carol },
    );
    tools = await connectTools(contextOver(connections, { perProviderTimeoutMs: timeoutMs }));
  });
  afterAll(async () => {
    for (const fake of [cloud, dataCenter, op]) expect(fake.recordedText()).not.toMatch(/mcp_/);
    const transcript = tools.transcript.join('\n');
    expect(transcript).not.toContain(alice.token);
    expect(transcript).not.toContain(carol.token);
    await tools.close();
    await Promise.all([cloud.stop(), dataCenter.stop(), op.stop()]);
  });
  beforeEach(() => {
    for (const fake of [cloud, dataCenter, op]) {
      fake.setBehaviour({
        latencyMs: 0,
        rateLimitNext: null,
        alwaysUnavailable: false,
        deadToken: false,
      });
    }
  });

  it('asks every active connection at once and merges their results', async () => {
    const result = await tools.call<ListResult>('list_my_issues');
    expect(result.isError).toBe(false);
    expect(result.structured.issues?.map((issue) => issue.connection_id).sort()).toEqual(
      connections.map((c) => c.id).sort(),
    );
    expect(result.structured.errors).toEqual([]);
  });

  it('one slow provider: the others answer, it becomes a timeout entry, and the call takes about the timeout', async () => {
    op.setBehaviour({ latencyMs: 5_000 });
    dataCenter.setBehaviour({ latencyMs: 300 });
    const start = performance.now();
    const result = await tools.call<ListResult>('list_projects');
    const elapsed = performance.now() - start;
    expect(result.isError).toBe(false);
    expect(result.structured.projects).toHaveLength(6);
    expect(result.structured.errors).toEqual([
      expect.objectContaining({
        connection_id: connections[2]?.id,
        name: 'OP',
        error_code: 'provider_timeout',
      }),
    ]);
    expect(result.text).toContain(
      'OP (OpenProject) — provider_timeout: OpenProject connection "OP" did not answer within 1.5 s',
    );
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
    expect(elapsed).toBeLessThan(2 * timeoutMs);
  });

  it('one provider down: the others answer, it becomes an unavailable entry', async () => {
    cloud.setBehaviour({ alwaysUnavailable: true });
    const result = await tools.call<ListResult>('list_my_issues');
    expect(result.isError).toBe(false);
    expect(result.structured.issues?.map((issue) => issue.connection_id).sort()).toEqual(
      [connections[1]?.id, connections[2]?.id].sort(),
    );
    expect(result.structured.errors).toEqual([
      expect.objectContaining({ name: 'Cloud', error_code: 'provider_unavailable' }),
    ]);
  });

  it('a dead Jira token is an authentication problem with the fix, not "no projects"', async () => {
    cloud.setBehaviour({ deadToken: true });
    const result = await tools.call<ListResult>('list_projects', { provider: 'Cloud' });
    expect(result.isError).toBe(true);
    expect(result.text).not.toMatch(/No projects found/);
    expect(result.text).toMatch(/^Could not list projects: no connection answered\./);
    // A tool error like any other: one code for the call (here every provider's own).
    expect(result.structured.error).toEqual({
      error_code: 'provider_auth_failed',
      message: 'Could not list projects: no connection answered.',
    });
    expect(result.structured.errors).toEqual([
      expect.objectContaining({ name: 'Cloud', error_code: 'provider_auth_failed' }),
    ]);
    const message = result.structured.errors[0]?.message ?? '';
    expect(message).toContain('The credential of Jira Cloud connection "Cloud" no longer works');
    expect(message).toContain('AUTHENTICATED_FAILED');
    expect(message).toContain(`PATCH /api/users/me/providers/${connections[0]?.id ?? ''}`);
  });

  it('list_providers with check=true reports which connection works now', async () => {
    cloud.setBehaviour({ deadToken: true });
    const result = await tools.call<{
      providers: { name: string; check?: { ok: boolean; error_code?: string } }[];
    }>('list_providers', { check: true });
    expect(
      result.structured.providers.map((provider) => [
        provider.name,
        provider.check?.ok,
        provider.check?.error_code,
      ]),
    ).toEqual([
      ['Cloud', false, 'provider_auth_failed'],
      ['DC', true, undefined],
      ['OP', true, undefined],
    ]);
  });

  it('narrows to one connection by name or id', async () => {
    const byName = await tools.call<ListResult>('list_projects', { provider: 'dc' });
    expect(new Set(byName.structured.projects?.map((project) => project.connection_id))).toEqual(
      new Set([connections[1]?.id]),
    );
    const byId = await tools.call<ListResult>('list_projects', { provider: connections[2]?.id });
    expect(byId.structured.projects?.map((project) => project.id)).toEqual([
      `${connections[2]?.id ?? ''}:1`,
    ]);
    const unknown = await tools.call('list_projects', { provider: 'Nope' });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain('No active connection has the id or name "Nope"');
  });

  it('shares the page size among connections and continues only those with more', async () => {
    const first = await tools.call<ListResult>('list_projects', { limit: 3 });
    expect(first.structured.projects).toHaveLength(3);
    const seen = first.structured.projects?.map((project) => project.id) ?? [];
    let cursor = first.structured.next_cursor;
    while (cursor) {
      const next = await tools.call<ListResult>('list_projects', { limit: 3, cursor });
      expect(next.isError).toBe(false);
      seen.push(...(next.structured.projects?.map((project) => project.id) ?? []));
      cursor = next.structured.next_cursor;
    }
    expect(new Set(seen).size).toBe(7);
    expect(seen).toHaveLength(7);
  });

  it('refuses a cursor from another query or a garbled one', async () => {
    const first = await tools.call<ListResult>('list_projects', { limit: 2 });
    const cursor = first.structured.next_cursor ?? '';
    const otherQuery = await tools.call('list_projects', { limit: 2, cursor, query: 'x' });
    expect(otherQuery.isError).toBe(true);
    expect(otherQuery.text).toContain('belongs to a query with different arguments');
    const otherTool = await tools.call('list_my_issues', { cursor });
    expect(otherTool.isError).toBe(true);
    const garbled = await tools.call('list_projects', { cursor: 'not-a-cursor' });
    expect(garbled.isError).toBe(true);
    expect(garbled.text).toContain('not a list_projects cursor');
  });

  it('passes jql to Jira connections only and says which it skipped', async () => {
    const result = await tools.call<ListResult & { skipped: { name: string }[] }>('search_issues', {
      jql: 'summary ~ bug',
    });
    expect(result.structured.issues?.map((issue) => issue.connection_id).sort()).toEqual(
      [connections[0]?.id, connections[1]?.id].sort(),
    );
    expect(result.structured.skipped).toEqual([
      expect.objectContaining({ name: 'OP', reason: 'jql applies to Jira connections only' }),
    ]);
    expect(op.requests.some((request) => request.query.jql !== undefined)).toBe(false);
  });
});

describe('long text is truncated with a marker', () => {
  let op: OpenProjectFake;
  let tools: ConnectedTools;
  let connection: ToolConnection;

  beforeAll(async () => {
    op = await startFakeOpenProject({
      projects: [{ identifier: 'big', name: 'Big' }],
      workPackages: [
        {
          project: 'big',
          subject: 'Huge',
          description: 'x'.repeat(10_000),
          comments: [{ author: 'dave', body: 'y'.repeat(3_000) }],
        },
      ],
    });
    connection = toolConnection({
      providerType: 'openproject',
      name: 'OP',
      baseUrl: op.url,
      apiToken: carol.token,
    });
    tools = await connectTools(contextOver([connection]));
  });
  afterAll(async () => {
    await tools.close();
    await op.stop();
  });

  it('cuts a description at 4,000 and a comment at 1,000 characters', async () => {
    const result = await tools.call<{
      issue: {
        description: string;
        description_truncated: boolean;
        comments: { body: string; body_truncated: boolean }[];
      };
    }>('get_issue', {
      id: `${connection.id}:1`,
    });
    const { issue } = result.structured;
    expect(issue.description_truncated).toBe(true);
    expect(
      issue.description.startsWith(
        'x'.repeat(4_000) + '\n… [truncated: 6000 more characters; open ',
      ),
    ).toBe(true);
    expect(issue.comments[0]?.body_truncated).toBe(true);
    expect(issue.comments[0]?.body).toMatch(/^y{1000}\n… \[truncated: 2000 more characters/);
    expect(result.text.length).toBeLessThan(6_000);
  });
});
