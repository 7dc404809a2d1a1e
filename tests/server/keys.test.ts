import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { generateApiKey, isWellFormedApiKey } from '../../server/keys/key-format.js';
import { databaseKinds } from '../support/databases.js';
import { connectMcpClient } from '../support/mcp.js';
import {
  createKey,
  registerAccount,
  request,
  type CreatedKey,
  type TestAccount,
} from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('key format', () => {
  it('has 256 random bits and a checksum that catches a mistyped or truncated key', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^mcp_[0-9A-Za-z]{49}$/);
    expect(isWellFormedApiKey(key)).toBe(true);
    const lastChar = key.charAt(key.length - 1);
    expect(isWellFormedApiKey(key.slice(0, -1) + (lastChar === 'a' ? 'b' : 'a'))).toBe(false);
    expect(isWellFormedApiKey(key.slice(0, 20))).toBe(false);
    const middle = key.charAt(20);
    expect(
      isWellFormedApiKey(key.slice(0, 20) + (middle === 'x' ? 'y' : 'x') + key.slice(21)),
    ).toBe(false);
    expect(new Set(Array.from({ length: 50 }, generateApiKey)).size).toBe(50);
  });
});

describe.each(databaseKinds)('MCP API keys on %s', (database) => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  const queries: string[] = [];
  const issuedKeys: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ database, onQuery: (text) => queries.push(text) });
    alice = await registerAccount(server.url, 'Alice');
    bob = await registerAccount(server.url, 'Bob');
  });
  afterAll(async () => {
    const logs = server.logs.join('');
    for (const key of issuedKeys) expect(logs).not.toContain(key);
    expect(logs).not.toMatch(/mcp_[0-9A-Za-z]{20,}/);
    await server.stop();
  });

  const session = (account: TestAccount) => ({ authorization: `Bearer ${account.accessToken}` });
  const newKey = async (account: TestAccount, body: Parameters<typeof createKey>[2] = {}) => {
    const key = await createKey(server.url, account, body);
    issuedKeys.push(key.api_key);
    return key;
  };
  const meWith = (key: string) =>
    request(server.url, 'GET', '/api/users/me', { headers: { 'x-mcp-api-key': key } });

  it('shows the plaintext once; lists show only the prefix', async () => {
    const key = await newKey(alice, { name: 'desk', scope: 'read', expires_in_days: 30 });
    expect(key.key_prefix).toBe(key.api_key.slice(0, 12));
    expect(key.scope).toBe('read');
    expect(Date.parse(key.expires_at ?? '')).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const list = await request<{ keys: Record<string, unknown>[] }>(
      server.url,
      'GET',
      '/api/users/me/mcp-keys',
      {
        headers: session(alice),
      },
    );
    expect(list.text).not.toContain(key.api_key);
    expect(list.body.keys.find((item) => item.id === key.id)).toMatchObject({
      key_prefix: key.key_prefix,
      is_active: true,
    });
  });

  it('applies the server maximum lifetime', async () => {
    const response = await request(server.url, 'POST', '/api/users/me/mcp-keys', {
      body: { name: 'forever', expires_in_days: 5000 },
      headers: session(alice),
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/expires_in_days/);
    const never = await request(server.url, 'POST', '/api/users/me/mcp-keys', {
      body: { name: 'never expires', expires_in_days: null },
      headers: session(alice),
    });
    expect(never.status).toBe(400);
    expect(never.body.message).toContain('keys on this server expire within 365 days');
  });

  it('gives byte-identical 401s for malformed, unknown, revoked and expired keys', async () => {
    const revoked = await newKey(alice);
    await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${revoked.id}`, {
      headers: session(alice),
    });
    const expired = await newKey(alice, { expires_in_days: 1 });
    await sql`update user_mcp_api_keys set expires_at = ${new Date(Date.now() - 1000).toISOString()} where id = ${expired.id}`.execute(
      server.app.database.db,
    );
    const candidates = {
      malformed: 'mcp_short',
      unknown: generateApiKey(),
      revoked: revoked.api_key,
      expired: expired.api_key,
    };
    const responses = await Promise.all(
      Object.values(candidates).map((candidate) => meWith(candidate)),
    );
    const shapes = responses.map((response) => {
      const headers = Object.fromEntries(response.headers.entries());
      delete headers.date;
      return { status: response.status, headers, body: response.text };
    });
    expect(shapes[0]?.status).toBe(401);
    expect(shapes[0]?.body).toBe('{"error":"invalid_api_key","message":"Invalid API key"}');
    expect(shapes[0]?.headers['www-authenticate']).toBe('Bearer');
    for (const shape of shapes) expect(shape).toEqual(shapes[0]);
  });

  it('refuses a malformed key without any database query', async () => {
    queries.length = 0;
    const response = await meWith('mcp_' + 'Z'.repeat(49));
    expect(response.status).toBe(401);
    // No key lookup: only the failure is recorded (audit log; PostgreSQL's shared limiter).
    expect(
      queries.filter(
        (text) =>
          !text.startsWith('insert into "audit_log"') && !/^\s*insert into auth_limits/.test(text),
      ),
    ).toEqual([]);
  });

  it('writes last_used_at at most once for 100 requests within a minute', async () => {
    const key = await newKey(alice);
    queries.length = 0;
    await Promise.all(Array.from({ length: 100 }, () => meWith(key.api_key)));
    const writes = queries.filter((text) =>
      /update "user_mcp_api_keys" set "last_used_at"/.test(text),
    );
    expect(writes.length).toBe(1);
    const list = await request<{ keys: { id: string; last_used_at: string | null }[] }>(
      server.url,
      'GET',
      '/api/users/me/mcp-keys',
      { headers: session(alice) },
    );
    expect(list.body.keys.find((item) => item.id === key.id)?.last_used_at).not.toBeNull();
  });

  it('lets a key revoke or rotate itself, but not mint keys or touch another key', async () => {
    const key = await newKey(alice);
    const other = await newKey(alice);
    const asKey = { 'x-mcp-api-key': key.api_key };
    expect(
      (
        await request(server.url, 'POST', '/api/users/me/mcp-keys', {
          body: { name: 'x' },
          headers: asKey,
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${other.id}`, {
          headers: asKey,
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await request(server.url, 'POST', '/api/users/me/providers', {
          body: {
            provider_type: 'jira',
            name: 'j',
            base_url: 'https://example.atlassian.net',
            email: 'a@b.c',
            api_token: 't',
          },
          headers: asKey,
        })
      ).status,
    ).toBe(403);
    const rotated = await request<CreatedKey>(
      server.url,
      'POST',
      `/api/users/me/mcp-keys/${key.id}/rotate`,
      { headers: asKey },
    );
    expect(rotated.status).toBe(201);
    issuedKeys.push(rotated.body.api_key);
    expect(rotated.body).toMatchObject({ name: 'laptop', scope: 'write' });
    expect((await meWith(key.api_key)).status).toBe(401);
    expect((await meWith(rotated.body.api_key)).status).toBe(200);
    const self = { 'x-mcp-api-key': rotated.body.api_key };
    expect(
      (
        await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${rotated.body.id}`, {
          headers: self,
        })
      ).status,
    ).toBe(204);
    expect((await meWith(rotated.body.api_key)).status).toBe(401);
  });

  it("answers another user's key id with 404, exactly as a missing one", async () => {
    const bobsKey = await newKey(bob);
    const missing = await request(
      server.url,
      'DELETE',
      '/api/users/me/mcp-keys/00000000-0000-4000-8000-000000000000',
      {
        headers: session(alice),
      },
    );
    const foreign = await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${bobsKey.id}`, {
      headers: session(alice),
    });
    expect(foreign.status).toBe(404);
    expect(foreign.text).toBe(missing.text);
    expect((await meWith(bobsKey.api_key)).status).toBe(200);
  });

  it('refuses a revoked key on its next request and closes its open streams', async () => {
    const key = await newKey(alice);
    const streamable = await connectMcpClient(server.url, 'streamable', {
      headers: { 'X-MCP-API-Key': key.api_key },
    });
    const stream = await fetch(new URL('/sse', server.url), {
      headers: { 'x-mcp-api-key': key.api_key, accept: 'text/event-stream' },
    });
    const reader = stream.body?.getReader();
    if (!reader) throw new Error('no SSE body');
    expect(new TextDecoder().decode((await reader.read()).value as Uint8Array)).toContain(
      'event: endpoint',
    );
    const sizeBefore = server.app.sseStreams.size;
    await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${key.id}`, {
      headers: session(alice),
    });
    // The server ends the stream: the reader sees its end rather than waiting forever.
    let result = await reader.read();
    while (!result.done) result = await reader.read();
    expect(server.app.sseStreams.size).toBe(sizeBefore - 1);
    await expect(streamable.listTools()).rejects.toThrow();
    expect((await meWith(key.api_key)).status).toBe(401);
    await streamable.close();
  });

  it('keeps no Streamable HTTP session: each request stands alone on its own key', async () => {
    const aliceKey = await newKey(alice);
    const bobKey = await newKey(bob);
    const post = (apiKey: string, body: unknown, extra: Record<string, string> = {}) =>
      fetch(new URL('/mcp', server.url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'x-mcp-api-key': apiKey,
          ...extra,
        },
        body: JSON.stringify(body),
      });
    const init = await post(aliceKey.api_key, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 't', version: '1' },
      },
    });
    expect(init.status).toBe(200);
    expect(init.headers.get('mcp-session-id')).toBeNull();
    // Whatever session id a client sends, the request is answered for the key it carries.
    const listAs = (apiKey: string) =>
      post(
        apiKey,
        { jsonrpc: '2.0', id: 2, method: 'tools/list' },
        { 'mcp-session-id': 'made-up', 'mcp-protocol-version': '2025-06-18' },
      );
    expect((await listAs(bobKey.api_key)).status).toBe(200);
    expect((await listAs(aliceKey.api_key)).status).toBe(200);
    await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${bobKey.id}`, {
      headers: session(bob),
    });
    expect((await listAs(bobKey.api_key)).status).toBe(401);
  });

  it("answers user B's key on user A's SSE session with 404", async () => {
    const aliceKey = await newKey(alice);
    const bobKey = await newKey(bob);
    const controller = new AbortController();
    const stream = await fetch(new URL('/sse', server.url), {
      headers: { 'x-mcp-api-key': aliceKey.api_key, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    const reader = stream.body?.getReader();
    const first = new TextDecoder().decode((await reader?.read())?.value as Uint8Array | undefined);
    const endpoint = /data: (\S+)/.exec(first)?.[1] ?? '';
    expect(endpoint).toMatch(/^\/messages\?sessionId=/);
    const post = (apiKey: string) =>
      request(server.url, 'POST', endpoint, {
        body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        headers: { 'x-mcp-api-key': apiKey },
      });
    expect((await post(bobKey.api_key)).status).toBe(404);
    controller.abort();
  });

  it('stores no plaintext key in any column', async () => {
    const key = await newKey(alice);
    if (database === 'sqlite') {
      const target = server.app.config.database;
      if (target.kind !== 'sqlite') throw new Error('expected sqlite');
      await sql`pragma wal_checkpoint(TRUNCATE)`.execute(server.app.database.db);
      for (const file of [target.path, `${target.path}-wal`]) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(file);
        } catch {
          continue;
        }
        expect(bytes.includes(Buffer.from(key.api_key))).toBe(false);
        expect(bytes.includes(Buffer.from(key.api_key.slice(4)))).toBe(false);
      }
    } else {
      const columns = await sql<{ table_name: string; column_name: string }>`
        select table_name, column_name from information_schema.columns
        where table_schema = current_schema() and data_type in ('text', 'character varying')`.execute(
        server.app.database.db,
      );
      expect(columns.rows.length).toBeGreaterThan(5);
      for (const { table_name, column_name } of columns.rows) {
        const hits = await sql<{
          count: string;
        }>`select count(*)::text as count from ${sql.table(table_name)}
          where position(${key.api_key.slice(4)} in ${sql.ref(column_name)}) > 0`.execute(
          server.app.database.db,
        );
        expect(hits.rows[0]?.count, `${table_name}.${column_name}`).toBe('0');
      }
    }
  });

  it('still authenticates a key of the original format after import', async () => {
    const legacyKey =
      'mcp_' + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex');
    await sql`insert into user_mcp_api_keys (id, user_id, name, key_prefix, scope, is_active, created_at, api_key)
      values (${crypto.randomUUID()}, ${alice.userId}, 'imported', 'legacy', 'write', ${database === 'sqlite' ? 1 : true},
      ${new Date().toISOString()}, ${legacyKey})`.execute(server.app.database.db);
    expect((await meWith(legacyKey)).status).toBe(401);
    const { migrateToLatest } = await import('../../server/db/migrate.js');
    const report = await migrateToLatest(server.app.database.db, {
      schema: server.app.database.schema,
    });
    expect(report.legacyKeysHashed).toBe(1);
    expect((await meWith(legacyKey)).status).toBe(200);
    const row = await server.app.database.db
      .selectFrom('user_mcp_api_keys')
      .select(['api_key', 'key_prefix'])
      .where('name', '=', 'imported')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ api_key: null, key_prefix: legacyKey.slice(0, 12) });

    // It never expired; its rotation gets the server's maximum lifetime.
    const listed = await request<{ keys: { id: string; name: string }[] }>(
      server.url,
      'GET',
      '/api/users/me/mcp-keys',
      { headers: { 'x-mcp-api-key': legacyKey } },
    );
    const imported = listed.body.keys.find((key) => key.name === 'imported');
    const rotated = await request<{ api_key: string; expires_at: string }>(
      server.url,
      'POST',
      `/api/users/me/mcp-keys/${imported?.id ?? 'missing'}/rotate`,
      { headers: session(alice) },
    );
    expect(rotated.status).toBe(201);
    issuedKeys.push(rotated.body.api_key);
    const days = (Date.parse(rotated.body.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThanOrEqual(365);
    expect((await meWith(legacyKey)).status).toBe(401);
  });
});
