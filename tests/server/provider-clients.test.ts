import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserConnection } from '../../server/connections/connections.js';
import { ProviderClientCache } from '../../server/connections/provider-clients.js';
import type {
  ProviderClient,
  ProviderConnectionSettings,
  ProviderHttpOptions,
} from '../../server/providers/index.js';
import { startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import { databaseKinds } from '../support/databases.js';
import { createKey, registerAccount, request, type TestAccount } from '../support/http.js';
import { connectMcpClient, textOf } from '../support/mcp.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * One provider client per connection, kept between tool calls (issue 9, B2): an edit of the
 * credential or base URL builds a new client on the next call, and no user is ever handed
 * another user's client.
 */

function connection(id: string, revision: string, apiToken = 'token'): UserConnection {
  return {
    id,
    provider_type: 'jira',
    name: 'Jira',
    base_url: 'https://example.atlassian.net',
    is_active: true,
    created_at: '2026-01-01T00:00:00.000Z',
    last_checked_at: null,
    last_check_ok: null,
    last_check_message: null,
    revision,
    settings: () => ({
      providerType: 'jira',
      baseUrl: 'https://example.atlassian.net',
      credentials: { email: 'a@example.com', apiToken },
    }),
  };
}

/** A cache whose builds are recorded (settings and options), each build a distinct object. */
function recordingCache(options: { maxEntries?: number; now?: () => number } = {}) {
  const built: { settings: ProviderConnectionSettings; httpOptions: ProviderHttpOptions }[] = [];
  const cache = new ProviderClientCache({
    ...options,
    httpOptions: { allowedHosts: ['jira.internal'] },
    create: (settings, httpOptions) => {
      built.push({ settings, httpOptions });
      return { built: built.length } as unknown as ProviderClient;
    },
  });
  return { cache, built };
}

describe('ProviderClientCache', () => {
  it('reuses a connection’s client while its revision is the same', () => {
    const { cache, built } = recordingCache();
    const first = cache.clientFor('user-a', connection('c1', 'r1'));
    expect(cache.clientFor('user-a', connection('c1', 'r1'))).toBe(first);
    expect(built).toHaveLength(1);
    // The operator's SSRF allow-list reaches every client.
    expect(built[0]?.httpOptions.allowedHosts).toEqual(['jira.internal']);
  });

  it('builds a new client when the connection changed (credential or base URL edit)', () => {
    const { cache, built } = recordingCache();
    const before = cache.clientFor('user-a', connection('c1', 'r1', 'old-token'));
    const after = cache.clientFor('user-a', connection('c1', 'r2', 'new-token'));
    expect(after).not.toBe(before);
    expect(built.map((entry) => entry.settings.apiToken)).toEqual(['old-token', 'new-token']);
    expect(cache.size).toBe(1); // the old client is dropped, not kept beside the new one
  });

  it('never hands one user’s client to another, even for the same connection id', () => {
    const { cache, built } = recordingCache();
    const alices = cache.clientFor('user-a', connection('c1', 'r1'));
    const bobs = cache.clientFor('user-b', connection('c1', 'r1'));
    expect(bobs).not.toBe(alices);
    expect(cache.clientFor('user-a', connection('c1', 'r1'))).toBe(alices);
    expect(cache.clientFor('user-b', connection('c1', 'r1'))).toBe(bobs);
    expect(built).toHaveLength(2);
  });

  it('is bounded: the least recently used connection goes first', () => {
    const { cache, built } = recordingCache({ maxEntries: 2 });
    const one = cache.clientFor('u', connection('c1', 'r'));
    cache.clientFor('u', connection('c2', 'r'));
    expect(cache.clientFor('u', connection('c1', 'r'))).toBe(one); // c1 is now the newest
    cache.clientFor('u', connection('c3', 'r')); // evicts c2
    expect(cache.size).toBe(2);
    expect(cache.clientFor('u', connection('c1', 'r'))).toBe(one);
    cache.clientFor('u', connection('c2', 'r'));
    expect(built).toHaveLength(4);
  });

  it('rebuilds a client after its maximum age', () => {
    let now = 0;
    const { cache } = recordingCache({ now: () => now });
    const first = cache.clientFor('u', connection('c1', 'r'));
    now += 4 * 60_000;
    expect(cache.clientFor('u', connection('c1', 'r'))).toBe(first);
    now += 2 * 60_000;
    expect(cache.clientFor('u', connection('c1', 'r'))).not.toBe(first);
  });
});

describe.each(databaseKinds)('provider clients kept between tool calls on %s', (database) => {
  let server: TestServer;
  let jira: JiraFake;
  let alice: TestAccount;
  let bob: TestAccount;

  const jiraUser = (name: string) => {
    const found = jira.state.users.find((user) => user.name === name);
    if (!found) throw new Error(`the fake has no user ${name}`);
    return found;
  };
  const session = (account: TestAccount) => ({ authorization: `Bearer ${account.accessToken}` });
  const addConnection = async (account: TestAccount, jiraName: string): Promise<string> => {
    const user = jiraUser(jiraName);
    const added = await request<{ provider: { id: string } }>(
      server.url,
      'POST',
      '/api/users/me/providers',
      {
        headers: session(account),
        body: {
          provider_type: 'jira',
          name: 'Team Jira',
          base_url: jira.url,
          email: user.email,
          api_token: user.token,
        },
      },
    );
    expect(added.status).toBe(201);
    return added.body.provider.id;
  };
  const mcpClientOf = async (account: TestAccount) => {
    const key = await createKey(server.url, account);
    return connectMcpClient(server.url, 'modern', { headers: { 'X-MCP-API-Key': key.api_key } });
  };

  beforeAll(async () => {
    jira = await startFakeJiraCloud({
      projects: [{ key: 'APP', name: 'App' }],
      issues: [
        { projectKey: 'APP', summary: 'Alice’s task', assignee: 'alice' },
        { projectKey: 'APP', summary: 'Bob’s task', assignee: 'bob' },
      ],
    });
    server = await startTestServer({
      database,
      env: { PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1' },
      providerHttp: { maxAttempts: 1, timeoutMs: 5_000 },
    });
    alice = await registerAccount(server.url, 'Alice');
    bob = await registerAccount(server.url, 'Bob');
  });
  afterAll(async () => {
    await server.stop();
    await jira.stop();
  });

  it('uses an edited credential on the very next call', async () => {
    const connectionId = await addConnection(alice, 'alice');
    const client = await mcpClientOf(alice);
    try {
      const listProjects = () => client.callTool({ name: 'list_projects', arguments: {} });
      expect(textOf(await listProjects())).toContain('App');
      // The Jira token is rotated: the one the kept client holds is dead from now on.
      const user = jiraUser('alice');
      user.token = 'jira-token-alice-rotated';
      const stale = await listProjects();
      expect(stale.isError).toBe(true);
      const patched = await request(
        server.url,
        'PATCH',
        `/api/users/me/providers/${connectionId}`,
        { headers: session(alice), body: { api_token: user.token } },
      );
      expect(patched.status).toBe(200);
      const fresh = await listProjects();
      expect(fresh.isError).not.toBe(true);
      expect(textOf(fresh)).toContain('App');
    } finally {
      await client.close();
    }
  });

  it('gives each user their own client: each sees their own issues, calls interleaved', async () => {
    await addConnection(bob, 'bob');
    const [alicesClient, bobsClient] = await Promise.all([mcpClientOf(alice), mcpClientOf(bob)]);
    try {
      for (let round = 0; round < 3; round++) {
        const [forAlice, forBob] = await Promise.all([
          alicesClient.callTool({ name: 'list_my_issues', arguments: {} }),
          bobsClient.callTool({ name: 'list_my_issues', arguments: {} }),
        ]);
        expect(textOf(forAlice)).toContain('Alice’s task');
        expect(textOf(forAlice)).not.toContain('Bob’s task');
        expect(textOf(forBob)).toContain('Bob’s task');
        expect(textOf(forBob)).not.toContain('Alice’s task');
      }
    } finally {
      await Promise.all([alicesClient.close(), bobsClient.close()]);
    }
  });
});
