import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import type { RecordedRequest } from '../fakes/fake-server.js';
import { startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import { startFakeJiraDataCenter } from '../fakes/jira-data-center.js';
import { startFakeOpenProject, type OpenProjectFake } from '../fakes/openproject.js';
import { waitFor } from '../support/cluster.js';
import {
  createKey,
  registerAccount,
  request,
  type CreatedKey,
  type TestAccount,
} from '../support/http.js';
import { connectMcpClient, textOf, type McpClientLike } from '../support/mcp.js';
import { startTestServer, type TestServer } from '../support/server.js';

type ProviderCase = 'jira' | 'jira_server' | 'openproject';

interface ToolError {
  error?: { error_code: string; message: string; policy?: string };
}
interface Issues {
  issues?: { id: string; title: string; project_id?: string | null }[];
  projects?: { id: string }[];
  providers?: { id: string }[];
  users?: { connection_id: string }[];
  issue?: { id: string; title: string };
  connections?: { connection_id: string }[];
}

const bearer = (account: TestAccount) => ({ authorization: `Bearer ${account.accessToken}` });

/** What each provider received as its issue query: the JQL, or OpenProject's `filters`. */
function issueQueriesOf(fake: JiraFake | OpenProjectFake, type: ProviderCase): string[] {
  const isSearch = (item: RecordedRequest) =>
    type === 'openproject'
      ? /\/work_packages$/.test(item.path)
      : /\/search(\/jql)?$/.test(item.path);
  return fake.requests.filter(isSearch).map((item) => {
    const value =
      type === 'openproject'
        ? item.query.filters
        : (item.query.jql ?? (item.body as { jql?: string } | undefined)?.jql);
    return String(value);
  });
}

/**
 * SPEC §3.7 per-key policy, through the real server and the SDK's real clients over HTTP: one user
 * with a Jira Cloud, a Jira Data Center and an OpenProject connection, each with an allowed and a
 * secret project. Keys limited to one tool and one project see and do exactly that.
 */
describe('per-key policy', () => {
  let server: TestServer;
  let account: TestAccount;
  let other: TestAccount;
  const fakes = {} as Record<ProviderCase, JiraFake | OpenProjectFake>;
  const connection = {} as Record<ProviderCase, string>;
  /** The allowed and the secret project key on each connection. */
  const projects = {} as Record<ProviderCase, { allowed: string; secret: string }>;
  /** An issue key in each project. */
  const issues = {} as Record<ProviderCase, { allowed: string; secret: string }>;
  const clients: McpClientLike[] = [];

  const connect = async (key: CreatedKey, kind: 'modern' | 'streamable' | 'sse') => {
    const client = await connectMcpClient(server.url, kind, {
      headers: { 'X-MCP-API-Key': key.api_key },
    });
    clients.push(client);
    return client;
  };
  const call = async (client: McpClientLike, name: string, args: Record<string, unknown> = {}) => {
    const result = await client.callTool({ name, arguments: args });
    return {
      isError: result.isError === true,
      text: textOf(result),
      data: (result.structuredContent ?? {}) as Issues & ToolError,
      all: textOf(result) + JSON.stringify(result.structuredContent ?? {}),
    };
  };
  const mintKey = async (body: Record<string, unknown>) => {
    const response = await request<CreatedKey & Record<string, unknown>>(
      server.url,
      'POST',
      '/api/users/me/mcp-keys',
      { headers: bearer(account), body: { name: 'limited', ...body } },
    );
    if (response.status !== 201) throw new Error(`minting failed: ${response.text}`);
    return response.body;
  };

  beforeAll(async () => {
    const jiraIssues = (allowed: string, secret: string) => [
      { projectKey: allowed, summary: 'Allowed roadmap task', assignee: 'alice' },
      { projectKey: allowed, summary: 'Allowed second task', assignee: 'alice' },
      { projectKey: secret, summary: 'Secret merger task', assignee: 'alice' },
    ];
    const cloud = await startFakeJiraCloud({
      projects: [
        { key: 'OPEN', name: 'Open project' },
        { key: 'HIDDEN', name: 'Hidden project' },
      ],
      issues: jiraIssues('OPEN', 'HIDDEN'),
    });
    const dataCenter = await startFakeJiraDataCenter({
      projects: [
        { key: 'DCOPEN', name: 'Open DC project' },
        { key: 'DCHIDDEN', name: 'Hidden DC project' },
      ],
      issues: jiraIssues('DCOPEN', 'DCHIDDEN'),
    });
    const openProject = await startFakeOpenProject({
      projects: [
        { identifier: 'open', name: 'Open OP project' },
        { identifier: 'hidden', name: 'Hidden OP project' },
      ],
    });
    const opUser = openProject.state.users[0];
    if (!opUser) throw new Error('the OpenProject fake has no user');
    const [opAllowed, , opSecret] = openProject.seedWorkPackages([
      { project: 'open', subject: 'Allowed roadmap task', assignee: opUser.login },
      { project: 'open', subject: 'Allowed second task', assignee: opUser.login },
      { project: 'hidden', subject: 'Secret merger task', assignee: opUser.login },
    ]);
    const opProject = (identifier: string) =>
      String(openProject.state.projects.find((p) => p.identifier === identifier)?.id);
    fakes.jira = cloud;
    fakes.jira_server = dataCenter;
    fakes.openproject = openProject;
    projects.jira = { allowed: 'OPEN', secret: 'HIDDEN' };
    projects.jira_server = { allowed: 'DCOPEN', secret: 'DCHIDDEN' };
    projects.openproject = { allowed: opProject('open'), secret: opProject('hidden') };
    const keyOf = (fake: JiraFake, summary: string) =>
      fake.state.issues.find((issue) => issue.summary === summary)?.key ?? '';
    issues.jira = {
      allowed: keyOf(cloud, 'Allowed roadmap task'),
      secret: keyOf(cloud, 'Secret merger task'),
    };
    issues.jira_server = {
      allowed: keyOf(dataCenter, 'Allowed roadmap task'),
      secret: keyOf(dataCenter, 'Secret merger task'),
    };
    issues.openproject = { allowed: String(opAllowed?.id), secret: String(opSecret?.id) };

    server = await startTestServer({ providerHttp: { maxAttempts: 1, timeoutMs: 5_000 } });
    account = await registerAccount(server.url, 'Alice');
    other = await registerAccount(server.url, 'Mallory');
    const jiraUser = cloud.state.users[0];
    if (!jiraUser) throw new Error('the Jira fake has no user');
    const bodies: Record<ProviderCase, Record<string, unknown>> = {
      jira: { base_url: cloud.url, email: jiraUser.email, api_token: jiraUser.token },
      jira_server: { base_url: dataCenter.url, api_token: jiraUser.token },
      openproject: { base_url: openProject.url, api_token: opUser.token },
    };
    for (const type of ['jira', 'jira_server', 'openproject'] as const) {
      const response = await request<{ provider: { id: string } }>(
        server.url,
        'POST',
        '/api/users/me/providers',
        {
          headers: bearer(account),
          body: { provider_type: type, name: `My ${type}`, ...bodies[type] },
        },
      );
      if (response.status !== 201) throw new Error(`adding ${type} failed: ${response.text}`);
      connection[type] = response.body.provider.id;
    }
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await server.stop();
    await Promise.all(Object.values(fakes).map((fake) => fake.stop()));
  });

  const cases = [
    { type: 'jira', label: 'Jira Cloud' },
    { type: 'jira_server', label: 'Jira Data Center' },
    { type: 'openproject', label: 'OpenProject' },
  ] as const;

  describe.each(cases)('on $label', ({ type }) => {
    const secretWords = 'Secret merger';

    it.each(['modern', 'streamable'] as const)(
      'a key limited to search_issues and one project sees and does exactly that (%s client)',
      async (kind) => {
        const key = await mintKey({
          allowed_tools: ['search_issues'],
          allowed_projects: [`${connection[type]}:${projects[type].allowed}`],
        });
        expect(key.allowed_tools).toEqual(['search_issues']);
        const client = await connect(key, kind);

        const listed = await client.listTools();
        expect(listed.tools.map((tool) => tool.name)).toEqual(['search_issues']);

        const refused = await call(client, 'list_projects');
        expect(refused.isError).toBe(true);
        expect(refused.data.error?.error_code).toBe('tool_not_allowed');
        expect(refused.text).toContain("not allowed by this MCP key's policy");
        expect(refused.text).toContain('allowed_tools: search_issues');

        const before = fakes[type].requests.length;
        const found = await call(client, 'search_issues', { text: 'task' });
        expect(found.isError).toBe(false);
        const titles = (found.data.issues ?? []).map((issue) => issue.title).sort();
        expect(titles).toEqual(['Allowed roadmap task', 'Allowed second task']);
        expect(found.all).not.toContain(secretWords);
        // Only this connection was asked: the other providers are outside the policy.
        expect(found.data.connections?.map((c) => c.connection_id)).toEqual([connection[type]]);
        // The provider query itself carried the restriction.
        const queries = issueQueriesOf(fakes[type], type).slice(-1);
        expect(fakes[type].requests.length).toBeGreaterThan(before);
        if (type === 'openproject') {
          expect(JSON.parse(queries[0] ?? '[]')).toContainEqual({
            project: { operator: '=', values: [projects[type].allowed] },
          });
        } else {
          expect(queries[0]).toContain(`project in ("${projects[type].allowed}")`);
        }

        const otherProject = await call(client, 'search_issues', {
          project_id: `${connection[type]}:${projects[type].secret}`,
        });
        expect(otherProject.isError).toBe(true);
        expect(otherProject.data.error?.error_code).toBe('project_not_allowed');
        expect(otherProject.text).toContain('allowed_projects');
        expect(otherProject.all).not.toContain(secretWords);
      },
    );

    it('a key limited to one project reads and writes nothing outside it, through any tool', async () => {
      const key = await mintKey({
        allowed_projects: [`${connection[type]}:${projects[type].allowed}`],
      });
      const client = await connect(key, 'modern');
      const secretId = `${connection[type]}:${issues[type].secret}`;
      const allowedId = `${connection[type]}:${issues[type].allowed}`;
      const secretProject = `${connection[type]}:${projects[type].secret}`;
      const refusals: string[] = [];
      const expectRefused = async (name: string, args: Record<string, unknown>) => {
        const outcome = await call(client, name, args);
        expect(outcome.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
        expect(outcome.data.error?.error_code, name).toBe('project_not_allowed');
        expect(outcome.all).not.toContain(secretWords);
        refusals.push(name);
      };

      const providers = await call(client, 'list_providers');
      expect(providers.data.providers?.map((p) => p.id)).toEqual([connection[type]]);
      const projectList = await call(client, 'list_projects');
      expect(projectList.data.projects?.map((p) => p.id)).toEqual([
        `${connection[type]}:${projects[type].allowed}`,
      ]);
      const mine = await call(client, 'list_my_issues');
      expect((mine.data.issues ?? []).length).toBe(2);
      expect(mine.all).not.toContain(secretWords);
      const everything = await call(client, 'search_issues', {});
      expect(everything.all).not.toContain(secretWords);
      expect((everything.data.issues ?? []).length).toBe(2);
      const got = await call(client, 'get_issue', { id: allowedId, fields: ['title'] });
      expect(got.data.issue?.title).toBe('Allowed roadmap task');
      expect(JSON.stringify(got.data.issue)).not.toContain('project_id');

      await expectRefused('get_issue', { id: secretId });
      await expectRefused('list_versions', { project_id: secretProject });
      await expectRefused('create_issue', { project_id: secretProject, title: 'Leak' });
      await expectRefused('update_issue', { id: secretId, title: 'Changed' });
      await expectRefused('transition_issue', { id: secretId, status: 'Done' });
      await expectRefused('add_comment', { id: secretId, body: 'Sneaky' });
      await expectRefused('log_work', { id: secretId, time_spent: '1h' });
      await expectRefused('link_issues', { from_id: allowedId, to_id: secretId, type: 'relates' });
      const otherType = type === 'openproject' ? 'jira' : 'openproject';
      await expectRefused('find_users', { query: 'a', provider: connection[otherType] });
      await expectRefused('search_issues', { provider: connection[otherType] });
      expect(refusals).toHaveLength(10);

      // Nothing was written to any provider.
      const writes = fakes[type].requests.filter(
        (item) =>
          ['POST', 'PUT', 'PATCH', 'DELETE'].includes(item.method) &&
          !/\/search(\/jql)?$|\/work_packages$|\/form$/.test(item.path),
      );
      expect(writes.map((item) => `${item.method} ${item.path}`)).toEqual([]);

      // Inside the project the same writes work.
      const comment = await call(client, 'add_comment', { id: allowedId, body: 'Allowed note' });
      expect(comment.isError, comment.text).toBe(false);
      const created = await call(client, 'create_issue', {
        project_id: `${connection[type]}:${projects[type].allowed}`,
        title: 'Inside the fence',
      });
      expect(created.isError, created.text).toBe(false);
    });
  });

  it('wraps a jql that tries to escape the restriction, and refuses unbalanced ones', async () => {
    const key = await mintKey({
      allowed_tools: ['search_issues'],
      allowed_projects: [`${connection.jira}:OPEN`, connection.openproject],
    });
    const client = await connect(key, 'streamable');
    const widened = await call(client, 'search_issues', {
      jql: 'project = HIDDEN OR project = OPEN ORDER BY created ASC',
    });
    expect(widened.isError, widened.text).toBe(false);
    expect(widened.all).not.toContain('Secret merger');
    expect(widened.data.issues?.map((issue) => issue.title)).toContain('Allowed roadmap task');
    expect(issueQueriesOf(fakes.jira, 'jira').at(-1)).toBe(
      'project in ("OPEN") AND (project = HIDDEN OR project = OPEN) ORDER BY created ASC',
    );
    const escape = await call(client, 'search_issues', {
      jql: 'text ~ "x") OR (project = HIDDEN',
    });
    expect(escape.all).not.toContain('Secret merger');
    expect(escape.text).toContain('unbalanced parentheses');
    // The whole OpenProject connection is allowed: its query carries no project filter.
    const all = await call(client, 'search_issues', { provider: connection.openproject });
    expect(all.data.issues?.map((issue) => issue.title)).toContain('Secret merger task');
    expect(issueQueriesOf(fakes.openproject, 'openproject').at(-1)).not.toContain('"project"');
  });

  it('is set when minting, shown in listings, edited with a session only, kept by rotation', async () => {
    const key = await createKey(server.url, account, { name: 'editable' });
    const listing = async () => {
      const response = await request<{ keys: Record<string, unknown>[] }>(
        server.url,
        'GET',
        '/api/users/me/mcp-keys',
        { headers: bearer(account) },
      );
      return response.body.keys.find((item) => item.id === key.id);
    };
    expect(await listing()).toMatchObject({ allowed_tools: null, allowed_projects: null });

    const patch = (body: unknown, headers: Record<string, string> = bearer(account)) =>
      request(server.url, 'PATCH', `/api/users/me/mcp-keys/${key.id}`, {
        headers,
        body,
      });
    const edited = await patch({
      allowed_tools: ['get_issue', 'search_issues', 'get_issue'],
      allowed_projects: [`${connection.jira}:open`],
    });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({
      allowed_tools: ['get_issue', 'search_issues'],
      allowed_projects: [`${connection.jira}:OPEN`],
    });
    expect(await listing()).toMatchObject({ allowed_tools: ['get_issue', 'search_issues'] });

    // Only the projects change; the tools stay.
    const narrowed = await patch({ allowed_projects: null });
    expect(narrowed.body).toMatchObject({
      allowed_tools: ['get_issue', 'search_issues'],
      allowed_projects: null,
    });

    // A key cannot change its own limits, not even to narrow them.
    const bySelf = await patch({ allowed_tools: ['get_issue'] }, { 'X-MCP-API-Key': key.api_key });
    expect(bySelf.status).toBe(403);

    const rotated = await request<CreatedKey & Record<string, unknown>>(
      server.url,
      'POST',
      `/api/users/me/mcp-keys/${key.id}/rotate`,
      { headers: { 'X-MCP-API-Key': key.api_key } },
    );
    expect(rotated.status).toBe(201);
    expect(rotated.body.allowed_tools).toEqual(['get_issue', 'search_issues']);
  });

  it('refuses bad limits with clear validation errors', async () => {
    const mint = (body: Record<string, unknown>, who: TestAccount = account) =>
      request<{ error: string; message: string }>(server.url, 'POST', '/api/users/me/mcp-keys', {
        headers: bearer(who),
        body: { name: 'bad', ...body },
      });
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { allowed_tools: ['search_issues', 'delete_everything'] },
        /Unknown tool in allowed_tools: "delete_everything".*list_providers/,
      ],
      [{ allowed_tools: [] }, /at least one tool; send null/],
      [{ allowed_tools: 'search_issues' }, /allowed_tools/],
      [{ allowed_projects: ['not a connection'] }, /is not a project entry/],
      [{ allowed_projects: [`${connection.jira}:not-a-key!`] }, /is not a Jira project key/],
      [{ allowed_projects: [`${connection.openproject}:open`] }, /numeric id/],
      [
        { allowed_projects: ['00000000-0000-4000-8000-000000000000'] },
        /not one of your connections/,
      ],
    ];
    for (const [body, message] of cases) {
      const response = await mint(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error).toBe('validation_failed');
      expect(response.body.message).toMatch(message);
    }
    // Another user's connection is not one of yours.
    const foreign = await mint({ allowed_projects: [connection.jira] }, other);
    expect(foreign.status).toBe(400);
    expect(foreign.body.message).toMatch(/not one of your connections/);

    const key = await createKey(server.url, account);
    const empty = await request<{ message: string }>(
      server.url,
      'PATCH',
      `/api/users/me/mcp-keys/${key.id}`,
      { headers: bearer(account), body: {} },
    );
    expect(empty.status).toBe(400);
    expect(empty.body.message).toMatch(/allowed_tools and\/or allowed_projects/);
    const unknownField = await request<{ message: string }>(
      server.url,
      'PATCH',
      `/api/users/me/mcp-keys/${key.id}`,
      { headers: bearer(account), body: { scope: 'write' } },
    );
    expect(unknownField.status).toBe(400);
    const notMine = await request(server.url, 'PATCH', `/api/users/me/mcp-keys/${key.id}`, {
      headers: bearer(other),
      body: { allowed_tools: ['get_issue'] },
    });
    expect(notMine.status).toBe(404);
  });

  it('closes an SSE stream of a key whose limits change; the new stream has the new limits', async () => {
    const key = await mintKey({});
    const client = await connect(key, 'sse');
    expect((await client.listTools()).tools.length).toBe(13);
    const edited = await request(server.url, 'PATCH', `/api/users/me/mcp-keys/${key.id}`, {
      headers: bearer(account),
      body: { allowed_tools: ['list_providers'] },
    });
    expect(edited.status).toBe(200);
    await waitFor(
      'the old stream to close',
      async () => {
        try {
          await client.listTools();
          return false;
        } catch {
          return true;
        }
      },
      15_000,
    );
    const again = await connect(key, 'sse');
    expect((await again.listTools()).tools.map((tool) => tool.name)).toEqual(['list_providers']);
  });
});

describe('operator-wide tool limits', () => {
  it('PM_MCP_TOOLS offers only the named tools, and an unknown name stops the server', async () => {
    const server = await startTestServer({
      env: { PM_MCP_TOOLS: 'list_providers, search_issues' },
    });
    try {
      const account = await registerAccount(server.url);
      const key = await createKey(server.url, account);
      const client = await connectMcpClient(server.url, 'modern', {
        headers: { 'X-MCP-API-Key': key.api_key },
      });
      const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
      expect(names).toEqual(['list_providers', 'search_issues']);
      await client.close();
    } finally {
      await server.stop();
    }
    const bad = () =>
      loadConfig({ DATABASE_URL: 'sqlite::memory:', PM_MCP_TOOLS: 'search_issues,drop_tables' });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/PM_MCP_TOOLS names unknown tool\(s\) drop_tables/);
    expect(() =>
      loadConfig({ DATABASE_URL: 'sqlite::memory:', PM_MCP_READ_ONLY: 'maybe' }),
    ).toThrow(/PM_MCP_READ_ONLY must be true or false/);
  });

  it('PM_MCP_READ_ONLY=true takes the write tools away from every key', async () => {
    const server = await startTestServer({ env: { PM_MCP_READ_ONLY: 'true' } });
    try {
      const account = await registerAccount(server.url);
      const key = await createKey(server.url, account, { scope: 'write' });
      const client = await connectMcpClient(server.url, 'streamable', {
        headers: { 'X-MCP-API-Key': key.api_key },
      });
      const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
      expect(names).toEqual([
        'find_users',
        'get_issue',
        'list_my_issues',
        'list_projects',
        'list_providers',
        'list_versions',
        'search_issues',
      ]);
      const write = await client
        .callTool({
          name: 'create_issue',
          arguments: { project_id: 'x:Y', title: 't' },
        })
        .then(
          (result) => textOf(result),
          (error: unknown) => String(error),
        );
      expect(write).toMatch(/create_issue/);
      await client.close();
    } finally {
      await server.stop();
    }
  });
});

describe('a policy edit on every instance', () => {
  it('two instances on one PostgreSQL: edited through one, the other refuses on its next request', async () => {
    const first = await startTestServer({ database: 'postgres' });
    const second = await startTestServer({ database: 'postgres', sameDatabaseAs: first });
    const clients: McpClientLike[] = [];
    try {
      const account = await registerAccount(first.url);
      const key = await createKey(first.url, account);
      const onSecond = async () => {
        const client = await connectMcpClient(second.url, 'modern', {
          headers: { 'X-MCP-API-Key': key.api_key },
        });
        clients.push(client);
        return client;
      };
      const client = await onSecond();
      // The second instance has the key in its cache now.
      const before = await client.callTool({ name: 'list_providers', arguments: {} });
      expect((before.structuredContent as ToolError).error?.error_code).toBe('no_connections');

      const edited = await request(first.url, 'PATCH', `/api/users/me/mcp-keys/${key.id}`, {
        headers: bearer(account),
        body: { allowed_tools: ['search_issues'] },
      });
      expect(edited.status).toBe(200);
      // Bounded wait for the notification to reach the second instance.
      await waitFor(
        'the second instance to apply the new limits',
        async () => {
          const result = await client.callTool({ name: 'list_providers', arguments: {} });
          return (result.structuredContent as ToolError).error?.error_code === 'tool_not_allowed';
        },
        15_000,
      );
      expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(['search_issues']);
      const fresh = await onSecond();
      expect((await fresh.listTools()).tools.map((tool) => tool.name)).toEqual(['search_issues']);
    } finally {
      await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
      await second.stop();
      await first.stop();
    }
  });
});
