import pg from 'pg';
import { AdminOperations } from '../../server/admin.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/cluster.js';
import { postgresUrl } from '../support/databases.js';
import { createKey, registerAccount, request, type TestAccount } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The key cache is trusted only while PostgreSQL notifications arrive. Its listening connection
 * is terminated the way an operator or a failover would (`pg_terminate_backend`), and held down
 * (the test lengthens the reconnection delay) while a key is revoked with plain SQL, unheard.
 */
describe('the notification listener killed', { timeout: 120_000 }, () => {
  let server: TestServer;
  let alice: TestAccount;

  beforeAll(async () => {
    server = await startTestServer({ database: 'postgres', listenerReconnectDelayMs: 3_000 });
    alice = await registerAccount(server.url, 'Alice');
  });
  afterAll(async () => {
    await server.stop();
  });

  const me = (apiKey: string) =>
    request(server.url, 'GET', '/api/users/me', { headers: { 'x-mcp-api-key': apiKey } });

  async function terminateListener(): Promise<void> {
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ terminated: boolean }>(
        'select pg_terminate_backend(pid) as terminated from pg_stat_activity where application_name = $1',
        [`pm-mcp-listener:${server.app.instanceId}`],
      );
      expect(rows.map((row) => row.terminated)).toEqual([true]);
    } finally {
      await admin.end();
    }
  }

  it('bypasses the cache while down, refuses a key revoked meanwhile, and caches again once back', async () => {
    const key = await createKey(server.url, alice);
    expect((await me(key.api_key)).status).toBe(200);
    expect(server.app.keyCache.active()).toBe(true);
    expect(server.app.keyCache.size).toBeGreaterThan(0);

    await terminateListener();
    await waitFor('the listener to notice', () => !server.app.events.listening());
    expect(server.app.keyCache.active()).toBe(false);
    expect(server.app.keyCache.size).toBe(0);

    // Revoked behind the server's back while nobody listens: no notification will ever come.
    await server.app.database.db
      .updateTable('user_mcp_api_keys')
      .set({ is_active: false, revoked_at: new Date().toISOString() })
      .where('id', '=', key.id)
      .execute();
    expect(server.app.events.listening()).toBe(false);
    expect((await me(key.api_key)).status).toBe(401);
    const ready = await request(server.url, 'GET', '/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.listener).toBe('down');

    await waitFor('the listener to reconnect', () => server.app.events.listening(), 30_000);
    expect((await me(key.api_key)).status).toBe(401);
    expect((await request(server.url, 'GET', '/ready')).status).toBe(200);
    const other = await createKey(server.url, alice);
    expect((await me(other.api_key)).status).toBe(200);
    expect(server.app.keyCache.size).toBeGreaterThan(0);
  });

  it('hears a revocation made with plain SQL while listening, and drops the cached key', async () => {
    const key = await createKey(server.url, alice);
    expect((await me(key.api_key)).status).toBe(200);
    await server.app.database.db
      .updateTable('user_mcp_api_keys')
      .set({ is_active: false, revoked_at: new Date().toISOString() })
      .where('id', '=', key.id)
      .execute();
    await waitFor(
      'the cached key to be refused',
      async () => (await me(key.api_key)).status === 401,
    );
  });
});

describe('a user deleted on one instance', { timeout: 120_000 }, () => {
  let first: TestServer;
  let second: TestServer;

  beforeAll(async () => {
    first = await startTestServer({ database: 'postgres' });
    second = await startTestServer({ database: 'postgres', sameDatabaseAs: first });
  });
  afterAll(async () => {
    await second.stop();
    await first.stop();
  });

  it("closes the user's streams on the other instance at once and refuses their keys", async () => {
    const doomed = await registerAccount(first.url, 'Doomed');
    const key = await createKey(first.url, doomed);
    const me = (url: string) =>
      request(url, 'GET', '/api/users/me', { headers: { 'x-mcp-api-key': key.api_key } });
    expect((await me(second.url)).status).toBe(200);
    const stream = await fetch(new URL('/sse', second.url), {
      headers: { 'x-mcp-api-key': key.api_key },
    });
    expect(stream.status).toBe(200);
    if (!stream.body) throw new Error('no SSE body');
    const reader = stream.body.getReader();
    const ended = (async () => {
      while (!(await reader.read()).done);
      return Date.now();
    })();
    await waitFor('the stream to be registered', () => second.app.sseStreams.size === 1);
    // What `pm-mcp-server users delete --email …` does, on the first instance's database.
    await new AdminOperations(first.app.config, first.app.database).deleteUser(doomed.email);
    const deletedAt = Date.now();
    expect((await ended) - deletedAt).toBeLessThan(1_000);
    await waitFor(
      'the key to be refused',
      async () => (await me(second.url)).status === 401,
      1_000,
      10,
    );
  });
});
