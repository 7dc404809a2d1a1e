import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import { startFakeJiraDataCenter } from '../fakes/jira-data-center.js';
import { startFakeOpenProject, type OpenProjectFake } from '../fakes/openproject.js';
import { createKey, registerAccount, request, type TestAccount } from '../support/http.js';
import {
  connectMcpClient,
  mcpTransportKinds,
  textOf,
  type McpClientLike as Client,
} from '../support/mcp.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface Listed {
  projects?: { id: string; key: string; name: string; connection_id: string }[];
  issues?: { id: string; key: string; title: string; status: string }[];
  providers?: { id: string; name: string }[];
}

/**
 * Through the real server and the SDK's real client: each user's tools act only with that user's
 * connections. Alice has a Jira Cloud and an OpenProject, Bob a Jira Data Center.
 */
describe('PM tools over MCP, through the server', () => {
  let server: TestServer;
  let aliceJira: JiraFake;
  let aliceOpenProject: OpenProjectFake;
  let bobJira: JiraFake;
  let alice: TestAccount;
  let bob: TestAccount;
  let aliceClient: Client;
  let bobClient: Client;
  const connectionIds: Record<'aliceJira' | 'aliceOpenProject' | 'bobJira', string> = {
    aliceJira: '',
    aliceOpenProject: '',
    bobJira: '',
  };

  const addConnection = async (account: TestAccount, body: Record<string, unknown>) => {
    const response = await request<{ provider: { id: string } }>(
      server.url,
      'POST',
      '/api/users/me/providers',
      {
        headers: { authorization: `Bearer ${account.accessToken}` },
        body,
      },
    );
    if (response.status !== 201) throw new Error(`adding a connection failed: ${response.text}`);
    return response.body.provider.id;
  };

  beforeAll(async () => {
    aliceJira = await startFakeJiraCloud({ projects: [{ key: 'ALPHA', name: 'Alpha project' }] });
    aliceOpenProject = await startFakeOpenProject({
      projects: [{ identifier: 'charlie', name: 'Charlie project' }],
    });
    bobJira = await startFakeJiraDataCenter({
      projects: [{ key: 'BRAVO', name: 'Bravo secret project' }],
    });
    bobJira.seedIssues([
      { projectKey: 'BRAVO', summary: 'Bravo confidential task', assignee: 'bob' },
    ]);
    server = await startTestServer({ providerHttp: { maxAttempts: 1, timeoutMs: 3_000 } });
    alice = await registerAccount(server.url, 'Alice');
    bob = await registerAccount(server.url, 'Bob');
    const jiraAlice = aliceJira.state.users[0];
    const opAlice = aliceOpenProject.state.users[0];
    const jiraBob = bobJira.state.users[1];
    if (!jiraAlice || !opAlice || !jiraBob) throw new Error('fakes without users');
    connectionIds.aliceJira = await addConnection(alice, {
      provider_type: 'jira',
      name: 'Alice Jira',
      base_url: aliceJira.url,
      email: jiraAlice.email,
      api_token: jiraAlice.token,
    });
    connectionIds.aliceOpenProject = await addConnection(alice, {
      provider_type: 'openproject',
      name: 'Alice OpenProject',
      base_url: aliceOpenProject.url,
      api_token: opAlice.token,
    });
    connectionIds.bobJira = await addConnection(bob, {
      provider_type: 'jira_server',
      name: 'Bob Jira',
      base_url: bobJira.url,
      api_token: jiraBob.token,
    });
    aliceClient = await connectMcpClient(server.url, 'streamable', {
      headers: { 'X-MCP-API-Key': (await createKey(server.url, alice)).api_key },
    });
    bobClient = await connectMcpClient(server.url, 'sse', {
      headers: { 'X-MCP-API-Key': (await createKey(server.url, bob)).api_key },
    });
  });

  afterAll(async () => {
    await aliceClient.close();
    await bobClient.close();
    const logs = server.logs.join('');
    for (const fake of [aliceJira, bobJira])
      for (const user of fake.state.users) expect(logs).not.toContain(user.token);
    for (const fake of [aliceJira, bobJira, aliceOpenProject])
      expect(fake.recordedText()).not.toMatch(/mcp_/);
    await server.stop();
    await Promise.all([aliceJira.stop(), aliceOpenProject.stop(), bobJira.stop()]);
  });

  const call = async (client: Client, name: string, args: Record<string, unknown> = {}) => {
    const result = await client.callTool({ name, arguments: args });
    return { result, text: textOf(result), data: (result.structuredContent ?? {}) as Listed };
  };

  it("never shows anything of Bob's to Alice, nor Alice's to Bob", async () => {
    const aliceView = [
      await call(aliceClient, 'list_providers'),
      await call(aliceClient, 'list_projects'),
      await call(aliceClient, 'list_my_issues'),
      await call(aliceClient, 'search_issues', { text: 'Bravo' }),
    ];
    for (const { text, result } of aliceView) {
      const everything = text + JSON.stringify(result.structuredContent);
      expect(everything).not.toContain(connectionIds.bobJira);
      expect(everything).not.toContain('BRAVO');
      expect(everything).not.toContain('Bob Jira');
    }
    expect(aliceView[0]?.data.providers?.map((provider) => provider.id).sort()).toEqual(
      [connectionIds.aliceJira, connectionIds.aliceOpenProject].sort(),
    );
    const bobView = await call(bobClient, 'list_projects');
    expect(bobView.data.projects?.map((project) => project.key)).toEqual(['BRAVO']);
    expect(bobJira.requests.length).toBeGreaterThan(0);
    // Alice's calls reached only her own providers.
    expect(
      bobJira.requests.some((item) =>
        JSON.stringify(item.headers).includes(aliceJira.state.users[0]?.token ?? '-'),
      ),
    ).toBe(false);
  });

  it("answers Bob's connection id in Alice's call exactly as a connection that does not exist", async () => {
    const foreign = await call(aliceClient, 'get_issue', {
      id: `${connectionIds.bobJira}:BRAVO-1`,
    });
    const missingId = '00000000-0000-4000-8000-000000000000';
    const missing = await call(aliceClient, 'get_issue', { id: `${missingId}:BRAVO-1` });
    expect(foreign.result.isError).toBe(true);
    expect(foreign.text.replaceAll(connectionIds.bobJira, '<id>')).toBe(
      missing.text.replaceAll(missingId, '<id>'),
    );
    const write = await call(aliceClient, 'add_comment', {
      id: `${connectionIds.bobJira}:BRAVO-1`,
      body: 'hi',
    });
    expect(write.result.isError).toBe(true);
    expect(bobJira.issue('BRAVO-1')?.comments).toEqual([]);
  });

  it('lists projects, finds my issues, creates one, moves it and comments on it, on each provider type', async () => {
    const flows: {
      client: Client;
      connection: string;
      projectName: string;
      fake: JiraFake | OpenProjectFake;
    }[] = [
      {
        client: aliceClient,
        connection: connectionIds.aliceJira,
        projectName: 'Alpha project',
        fake: aliceJira,
      },
      {
        client: aliceClient,
        connection: connectionIds.aliceOpenProject,
        projectName: 'Charlie project',
        fake: aliceOpenProject,
      },
      {
        client: bobClient,
        connection: connectionIds.bobJira,
        projectName: 'Bravo secret project',
        fake: bobJira,
      },
    ];
    for (const flow of flows) {
      const projects = await call(flow.client, 'list_projects', { provider: flow.connection });
      const project = projects.data.projects?.find((item) => item.name === flow.projectName);
      expect(project, projects.text).toBeDefined();
      expect((await call(flow.client, 'list_my_issues')).result.isError).toBeFalsy();
      const created = await call(flow.client, 'create_issue', {
        project_id: project?.id,
        title: 'Ship the **PM MCP** pilot',
        description: 'Steps:\n\n- write\n- test',
        assignee: 'me',
      });
      expect(created.result.isError, created.text).toBeFalsy();
      const issueId = /(\S+:\S+)/.exec(JSON.stringify(created.result.structuredContent))?.[1] ?? '';
      const issue = (created.result.structuredContent as { issue?: { id: string } }).issue;
      expect(issue?.id ?? issueId).toMatch(new RegExp(`^${flow.connection}:`));
      const id = issue?.id ?? issueId;
      const mine = await call(flow.client, 'search_issues', {
        assignee: 'me',
        status: 'open',
        provider: flow.connection,
      });
      expect(mine.data.issues?.map((item) => item.id)).toContain(id);
      const wrongStatus = await call(flow.client, 'transition_issue', { id, status: 'Teleported' });
      expect(wrongStatus.result.isError).toBe(true);
      expect(wrongStatus.text).toMatch(/Reachable statuses: .*In progress/i);
      const moved = await call(flow.client, 'transition_issue', { id, status: 'in progress' });
      expect(moved.result.isError, moved.text).toBeFalsy();
      const commented = await call(flow.client, 'add_comment', {
        id,
        body: 'Started on this **today**.',
      });
      expect(commented.result.isError, commented.text).toBeFalsy();
      const fetched = await call(flow.client, 'get_issue', { id });
      expect(fetched.text).toMatch(/In progress/i);
      expect(fetched.text).toMatch(/Started on this/);
    }
  });

  it.each(mcpTransportKinds)(
    'hides and refuses the write tools for a read-scope key over %s',
    async (transport) => {
      const readKey = await createKey(server.url, alice, { scope: 'read' });
      const client = await connectMcpClient(server.url, transport, {
        headers: { 'X-MCP-API-Key': readKey.api_key },
      });
      try {
        const names = (await client.listTools()).tools.map((tool) => tool.name);
        expect(names).toContain('list_projects');
        for (const write of ['create_issue', 'update_issue', 'transition_issue', 'add_comment'])
          expect(names).not.toContain(write);
        const before = aliceJira.state.issues.length;
        // An unknown tool is a protocol error (-32602), as the MCP specification says.
        await expect(
          client.callTool({
            name: 'create_issue',
            arguments: { project_id: `${connectionIds.aliceJira}:ALPHA`, title: 'x' },
          }),
        ).rejects.toThrow(/create_issue not found/);
        expect(aliceJira.state.issues.length).toBe(before);
      } finally {
        await client.close();
      }
    },
  );

  it('tells a user without connections how to add one', async () => {
    const carol = await registerAccount(server.url, 'Carol');
    const client = await connectMcpClient(server.url, 'streamable', {
      headers: { 'X-MCP-API-Key': (await createKey(server.url, carol)).api_key },
    });
    try {
      const result = await call(client, 'list_projects');
      expect(result.result.isError).toBe(true);
      expect(result.text).toMatch(/pm-mcp providers add|Providers/);
    } finally {
      await client.close();
    }
  });
});
