import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readToolNames,
  writeToolNames,
  type ToolConnection,
} from '../../server/mcp/tools/index.js';
import { defaultJiraUsers, startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import {
  defaultOpenProjectUsers,
  startFakeOpenProject,
  type OpenProjectFake,
} from '../fakes/openproject.js';
import { defined } from '../providers/support.js';
import { connectTools, contextOver, toolConnection, type ConnectedTools } from './support.js';

const alice = defined(defaultJiraUsers[0], 'alice');
const bob = defined(defaultJiraUsers[1], 'bob');
const carol = defined(defaultOpenProjectUsers[0], 'carol');

describe('who sees which tools', () => {
  let jira: JiraFake;
  let connection: ToolConnection;

  beforeAll(async () => {
    jira = await startFakeJiraCloud({
      projects: [{ key: 'WEB', name: 'Website' }],
      issues: [{ projectKey: 'WEB', summary: 'A', assignee: 'alice' }],
    });
    connection = toolConnection({
      providerType: 'jira',
      name: 'Jira',
      baseUrl: jira.url,
      email: alice.email,
      apiToken: alice.token,
    });
  });
  afterAll(async () => {
    await jira.stop();
  });

  it('a write-scope key sees every tool, with annotations', async () => {
    const tools = await connectTools(contextOver([connection], { scope: 'write' }));
    const { tools: listed } = await tools.client.listTools();
    expect(listed.map((tool) => tool.name).sort()).toEqual(
      [...readToolNames, ...writeToolNames].sort(),
    );
    for (const tool of listed) {
      const isRead = (readToolNames as readonly string[]).includes(tool.name);
      expect(tool.annotations?.readOnlyHint).toBe(isRead);
      if (!isRead) expect(tool.annotations?.destructiveHint).toBe(false);
      expect(JSON.stringify(tool.inputSchema)).not.toMatch(/token|password|api_key|secret/i);
    }
    const byName = new Map(listed.map((tool) => [tool.name, tool]));
    expect(byName.get('update_issue')?.annotations?.idempotentHint).toBe(true);
    expect(byName.get('transition_issue')?.annotations?.idempotentHint).toBe(true);
    expect(byName.get('create_issue')?.annotations?.idempotentHint).toBe(false);
    expect(byName.get('add_comment')?.annotations?.idempotentHint).toBe(false);
    await tools.close();
  });

  it('a read-scope key does not see the write tools and cannot call them', async () => {
    const tools = await connectTools(contextOver([connection], { scope: 'read' }));
    const { tools: listed } = await tools.client.listTools();
    expect(listed.map((tool) => tool.name).sort()).toEqual([...readToolNames].sort());
    const before = jira.requests.length;
    for (const name of writeToolNames) {
      // An unknown tool is a protocol error (-32602), as the MCP specification says.
      await expect(
        tools.call(name, {
          id: `${connection.id}:WEB-1`,
          project_id: `${connection.id}:WEB`,
          title: 't',
          status: 'Done',
          body: 'b',
        }),
      ).rejects.toThrow(new RegExp(`${name}.*not found`));
    }
    expect(jira.requests.length).toBe(before);
    expect((await tools.call('list_projects')).isError).toBe(false);
    await tools.close();
  });

  it('the write handlers refuse on their own when the scope is read', async () => {
    // Registered for a write key, then (in the same request) the handler sees a read scope.
    const tools = await connectTools(() => {
      const context = contextOver([connection], { scope: 'write' });
      queueMicrotask(() => {
        context.scope = 'read';
      });
      return context;
    });
    const before = jira.requests.length;
    const result = await tools.call<{ error: { error_code: string } }>('add_comment', {
      id: `${connection.id}:WEB-1`,
      body: 'hi',
    });
    expect(result.isError).toBe(true);
    expect(result.structured.error.error_code).toBe('insufficient_scope');
    expect(result.text).toContain('this MCP key is read-only');
    expect(jira.requests.length).toBe(before);
    await tools.close();
  });
});

describe('a user without connections', () => {
  it('gets a tool error that says how to add one, from every tool', async () => {
    const tools = await connectTools(contextOver([]));
    for (const name of ['list_providers', 'list_projects', 'search_issues', 'list_my_issues']) {
      const result = await tools.call(name);
      expect(result.isError).toBe(true);
      expect(result.text).toContain('You have no Jira or OpenProject connections yet.');
      expect(result.text).toContain('Providers page');
      expect(result.text).toContain('pm-mcp providers add');
      expect(result.text).toContain('POST /api/users/me/providers');
    }
    await tools.close();
  });

  it('with only inactive connections is told to activate one', async () => {
    const inactive = toolConnection({
      providerType: 'jira_server',
      name: 'Old Jira',
      baseUrl: 'http://127.0.0.1:9',
      apiToken: 'x',
      isActive: false,
    });
    const tools = await connectTools(contextOver([inactive]));
    const result = await tools.call('list_my_issues');
    expect(result.isError).toBe(true);
    expect(result.text).toContain('None of your PM connections is active ("Old Jira")');
    const listed = await tools.call<{ providers: { is_active: boolean }[] }>('list_providers');
    expect(listed.isError).toBe(false);
    expect(listed.structured.providers).toEqual([expect.objectContaining({ is_active: false })]);
    const byId = await tools.call('get_issue', { id: `${inactive.id}:OLD-1` });
    expect(byId.text).toContain('Connection "Old Jira" is inactive.');
    await tools.close();
  });
});

describe('isolation between two users', () => {
  let jiraA: JiraFake;
  let jiraB: JiraFake;
  let opB: OpenProjectFake;
  let a: ConnectedTools;
  let b: ConnectedTools;
  let connectionA: ToolConnection;
  let connectionB: ToolConnection;
  let connectionBOpenProject: ToolConnection;

  beforeAll(async () => {
    jiraA = await startFakeJiraCloud({
      projects: [{ key: 'ALPHA', name: 'Alice project' }],
      issues: [{ projectKey: 'ALPHA', summary: 'Alice secret plan', assignee: 'alice' }],
    });
    jiraB = await startFakeJiraCloud({
      projects: [{ key: 'BETA', name: 'Bob project' }],
      issues: [{ projectKey: 'BETA', summary: 'Bob secret plan', assignee: 'bob' }],
    });
    opB = await startFakeOpenProject({
      projects: [{ identifier: 'bob-op', name: 'Bob OP' }],
      workPackages: [{ project: 'bob-op', subject: 'Bob OP plan', assignee: 'carol' }],
    });
    connectionA = toolConnection({
      providerType: 'jira',
      name: 'A Jira',
      baseUrl: jiraA.url,
      email: alice.email,
      apiToken: alice.token,
    });
    connectionB = toolConnection({
      providerType: 'jira',
      name: 'B Jira',
      baseUrl: jiraB.url,
      email: bob.email,
      apiToken: bob.token,
    });
    connectionBOpenProject = toolConnection({
      providerType: 'openproject',
      name: 'B OP',
      baseUrl: opB.url,
      apiToken: carol.token,
    });
    a = await connectTools(contextOver([connectionA]));
    b = await connectTools(contextOver([connectionB, connectionBOpenProject]));
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await Promise.all([jiraA.stop(), jiraB.stop(), opB.stop()]);
  });

  it("no tool called as A returns anything of B's, and B's providers never hear from A", async () => {
    const bRequestsBefore = jiraB.requests.length + opB.requests.length;
    await a.call('list_providers');
    await a.call('list_projects');
    await a.call('search_issues', { text: 'secret' });
    await a.call('list_my_issues');
    const transcript = a.transcript.join('\n');
    expect(transcript).toContain('Alice secret plan');
    for (const foreign of [
      'Bob',
      'BETA',
      'bob-op',
      connectionB.id,
      connectionBOpenProject.id,
      jiraB.url,
      opB.url,
    ]) {
      expect(transcript).not.toContain(foreign);
    }
    expect(jiraB.requests.length + opB.requests.length).toBe(bRequestsBefore);
    expect(jiraA.recordedText()).not.toContain(bob.token);
    expect(jiraB.recordedText()).not.toContain(alice.token);
  });

  it('B\'s connection id in A\'s call is "not found", exactly like one that does not exist', async () => {
    const missingId = randomUUID();
    const cases: [string, (connectionId: string) => Record<string, unknown>][] = [
      ['get_issue', (id) => ({ id: `${id}:BETA-1` })],
      ['create_issue', (id) => ({ project_id: `${id}:BETA`, title: 'x' })],
      ['update_issue', (id) => ({ id: `${id}:BETA-1`, title: 'x' })],
      ['transition_issue', (id) => ({ id: `${id}:BETA-1`, status: 'Done' })],
      ['add_comment', (id) => ({ id: `${id}:BETA-1`, body: 'x' })],
      ['search_issues', (id) => ({ project_id: `${id}:BETA` })],
    ];
    const before = jiraB.requests.length;
    for (const [tool, args] of cases) {
      const foreign = await a.call(tool, args(connectionB.id));
      const missing = await a.call(tool, args(missingId));
      expect(foreign.isError).toBe(true);
      expect(foreign.text).toContain('was not found');
      expect(foreign.text.replaceAll(connectionB.id, '<id>')).toBe(
        missing.text.replaceAll(missingId, '<id>'),
      );
      expect(JSON.stringify(foreign.structured).replaceAll(connectionB.id, '<id>')).toBe(
        JSON.stringify(missing.structured).replaceAll(missingId, '<id>'),
      );
    }
    expect(jiraB.requests.length).toBe(before);
  });

  it("a cursor crafted with B's connection id yields nothing of B's", async () => {
    const crafted = Buffer.from(
      JSON.stringify({ v: 1, t: 'list_projects', f: 'x', c: { [connectionB.id]: ['0', 5] } }),
    ).toString('base64url');
    const result = await a.call('list_projects', { cursor: crafted });
    expect(result.isError).toBe(true);
    expect(result.text).not.toContain('BETA');
  });

  it('refuses ids that are not "<connection id>:<key>"', async () => {
    const result = await a.call('get_issue', { id: 'WEB-1' });
    expect(result.isError).toBe(true);
    expect(result.text).toBe(
      '"WEB-1" is not an issue id. Ids look like "<connection id>:<key>"; take one from search_issues, list_my_issues or get_issue.',
    );
  });
});

describe("the server's own database unavailable", () => {
  it('is a clear tool error, not an unexpected one', async () => {
    const seen: string[] = [];
    const context = contextOver([]);
    // What the connections read throws while PostgreSQL restarts.
    const unavailable = Object.assign(new Error('Connection terminated unexpectedly'), {
      code: '57P01',
    });
    context.connections = {
      listAll: () => Promise.reject(unavailable),
      listActive: () => Promise.reject(unavailable),
      get: () => Promise.reject(unavailable),
    };
    context.onUnexpectedError = (_error, tool) => seen.push(tool);
    const tools = await connectTools(context);
    for (const name of ['list_projects', 'search_issues', 'list_providers'] as const) {
      const result = await tools.call<{ error: { error_code: string } }>(name);
      expect(result.isError).toBe(true);
      expect(result.structured.error.error_code).toBe('database_unavailable');
      expect(result.text).toContain('try again shortly');
    }
    expect(seen).toEqual([]);
    await tools.close();
  });
});

describe('an unexpected error (a bug, not a provider failure)', () => {
  it('is reported to the server and answered with a generic message that leaks nothing', async () => {
    const broken: ToolConnection = {
      ...toolConnection({
        providerType: 'jira_server',
        name: 'Broken',
        baseUrl: 'http://127.0.0.1:9',
        apiToken: 'x',
      }),
      client: () => {
        throw new Error('decryption failed for secret-material-123');
      },
    };
    const seen: { tool: string; message: string }[] = [];
    const context = contextOver([broken]);
    context.onUnexpectedError = (error, tool) => seen.push({ tool, message: String(error) });
    const tools = await connectTools(context);
    const listed = await tools.call<{ errors: { error_code: string; message: string }[] }>(
      'list_projects',
    );
    expect(listed.isError).toBe(true);
    expect(listed.structured.errors).toEqual([
      expect.objectContaining({
        error_code: 'internal_error',
        message: 'Something went wrong while talking to Jira Data Center connection "Broken".',
      }),
    ]);
    const single = await tools.call('add_comment', { id: `${broken.id}:A-1`, body: 'x' });
    expect(single.isError).toBe(true);
    expect(tools.transcript.join('\n')).not.toContain('secret-material-123');
    expect(seen).toEqual([
      { tool: 'list_projects', message: 'Error: decryption failed for secret-material-123' },
      { tool: 'add_comment', message: 'Error: decryption failed for secret-material-123' },
    ]);
    await tools.close();
  });
});
