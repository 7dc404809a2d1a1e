import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionService } from '../../server/connections/connections.js';
import { deriveKey } from '../../server/crypto.js';
import { databaseKinds } from '../support/databases.js';
import { connectMcpClient, mcpTransportKinds } from '../support/mcp.js';
import {
  createKey,
  registerAccount,
  request,
  type CreatedKey,
  type TestAccount,
} from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe.each(databaseKinds)('authentication on %s', (database) => {
  let server: TestServer;
  let account: TestAccount;
  let key: CreatedKey;

  beforeAll(async () => {
    server = await startTestServer({ database });
    account = await registerAccount(server.url, 'Alice');
    key = await createKey(server.url, account);
    // A connection only Alice has, so a tool result shows whose identity the server resolved.
    const store = new ConnectionService({
      db: server.app.database.db,
      encryptionKey: deriveKey(server.app.config.secretKey, 'provider-credentials'),
      now: () => new Date(),
      checkCredentials: () => Promise.resolve({ ok: true, message: 'Signed in' }),
    });
    await store.create(account.userId, {
      providerType: 'jira_server',
      name: "Alice's Jira",
      baseUrl: 'https://jira.alice.example',
      apiToken: 'unused',
    });
  });
  afterAll(async () => {
    expect(server.logs.join('')).not.toContain(key.api_key);
    await server.stop();
  });

  const whoAmI = async (headers: Record<string, string>, query = '') =>
    request<{ id?: string; error?: string }>(server.url, 'GET', `/api/users/me${query}`, {
      headers,
    });

  it('authenticates the right user by each method on the REST API', async () => {
    expect((await whoAmI({ 'x-mcp-api-key': key.api_key })).body.id).toBe(account.userId);
    expect((await whoAmI({ authorization: `Bearer ${key.api_key}` })).body.id).toBe(account.userId);
    // A key in the URL ends up in access logs: only the MCP endpoints take one (SPEC §3.5).
    const inUrl = await whoAmI({}, `?api_key=${key.api_key}`);
    expect(inUrl.status).toBe(401);
    expect(inUrl.body.error).toBe('unauthorized');
    expect((await whoAmI({ authorization: `Bearer ${account.accessToken}` })).body.id).toBe(
      account.userId,
    );
  });

  it.each(mcpTransportKinds)(
    'authenticates each key method through the SDK client over %s',
    async (transport) => {
      const methods: { headers?: Record<string, string>; query?: Record<string, string> }[] = [
        { headers: { 'X-MCP-API-Key': key.api_key } },
        { headers: { Authorization: `Bearer ${key.api_key}` } },
        { query: { api_key: key.api_key } },
        { headers: { Authorization: `Bearer ${account.accessToken}` } },
      ];
      for (const method of methods) {
        const client = await connectMcpClient(server.url, transport, method);
        const result = await client.callTool({ name: 'list_providers', arguments: {} });
        expect(result.isError).toBeFalsy();
        const { providers } = result.structuredContent as { providers: { name: string }[] };
        expect(providers.map((provider) => provider.name)).toEqual(["Alice's Jira"]);
        await client.close();
      }
    },
  );

  it('refuses X-User-ID when it is not enabled', async () => {
    const response = await whoAmI({ 'x-user-id': account.userId });
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('user_id_auth_disabled');
    expect((await whoAmI({}, `?user_id=${account.userId}`)).status).toBe(401);
    await expect(
      connectMcpClient(server.url, 'streamable', { headers: { 'X-User-ID': account.userId } }),
    ).rejects.toThrow();
  });

  it('never lets an invalid credential fall through to a weaker method', async () => {
    const revokedLookalike = key.api_key.slice(0, -1) + (key.api_key.endsWith('A') ? 'B' : 'A');
    const response = await whoAmI({
      'x-mcp-api-key': revokedLookalike,
      authorization: `Bearer ${account.accessToken}`,
    });
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('invalid_api_key');
  });

  it('answers a request without credentials with 401 and WWW-Authenticate', async () => {
    const response = await request(server.url, 'POST', '/mcp', { body: {} });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('refuses a request from a browser origin that is not allowed', async () => {
    const response = await whoAmI({ 'x-mcp-api-key': key.api_key, origin: 'https://evil.example' });
    expect(response.status).toBe(403);
    expect(response.body.error).toBe('origin_not_allowed');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe.each(databaseKinds)('X-User-ID when enabled on %s', (database) => {
  let server: TestServer;
  let account: TestAccount;

  beforeAll(async () => {
    server = await startTestServer({ database, env: { PM_MCP_ALLOW_USER_ID_AUTH: 'true' } });
    account = await registerAccount(server.url);
  });
  afterAll(() => server.stop());

  it('warns loudly at start', () => {
    expect(server.logs.join('')).toContain('PM_MCP_ALLOW_USER_ID_AUTH=true');
  });

  it.each(mcpTransportKinds)('authenticates the user by id over %s', async (transport) => {
    const client = await connectMcpClient(server.url, transport, {
      headers: { 'X-User-ID': account.userId },
    });
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('list_providers');
    await client.close();
    const me = await request<{ id: string }>(
      server.url,
      'GET',
      `/api/users/me?user_id=${account.userId}`,
    );
    expect(me.body.id).toBe(account.userId);
  });

  it('still refuses an invalid key sent beside a valid X-User-ID', async () => {
    const response = await request(server.url, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': 'mcp_not-a-real-key', 'x-user-id': account.userId },
    });
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('invalid_api_key');
  });

  it('refuses an unknown user id', async () => {
    const response = await request(server.url, 'GET', '/api/users/me', {
      headers: { 'x-user-id': '00000000-0000-4000-8000-000000000000' },
    });
    expect(response.status).toBe(401);
  });
});

describe('failed authentications from one address', () => {
  it('are refused with 429 and Retry-After past the limit; successes are neither counted nor refused', async () => {
    const server = await startTestServer({
      authFailureLimit: { maxFailures: 5, windowMs: 60_000 },
    });
    try {
      const account = await registerAccount(server.url);
      const key = await createKey(server.url, account);
      for (let i = 0; i < 20; i += 1) {
        expect(
          (
            await request(server.url, 'GET', '/api/users/me', {
              headers: { 'x-mcp-api-key': key.api_key },
            })
          ).status,
        ).toBe(200);
      }
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        statuses.push(
          (
            await request(server.url, 'GET', '/api/users/me', {
              headers: { 'x-mcp-api-key': 'mcp_wrong' },
            })
          ).status,
        );
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      const blocked = await request(server.url, 'GET', '/api/users/me', {
        headers: { 'x-mcp-api-key': 'mcp_wrong' },
      });
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      // A valid key from the same address is never refused (tests/server/failed-credentials-limiter.test.ts).
      const valid = await request(server.url, 'GET', '/api/users/me', {
        headers: { 'x-mcp-api-key': key.api_key },
      });
      expect(valid.status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
