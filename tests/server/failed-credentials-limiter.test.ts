import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../support/databases.js';
import {
  createKey,
  registerAccount,
  request,
  type CreatedKey,
  type TestAccount,
} from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

const limit = { maxFailures: 5, windowMs: 10 * 60_000 };

/** A well-formed-looking key that no server issued (malformed: no valid checksum). */
const garbageKey = (i: number) => `mcp_garbage${String(i).padStart(40, '0')}`;

const me = (url: string, headers: Record<string, string>) =>
  request<{ id?: string; error?: string }>(url, 'GET', '/api/users/me', { headers });

describe.each(databaseKinds)('the failed-credential limiter on %s', (database) => {
  describe('one client address', () => {
    let server: TestServer;
    let account: TestAccount;
    let key: CreatedKey;

    beforeAll(async () => {
      server = await startTestServer({ database, authFailureLimit: limit });
      account = await registerAccount(server.url);
      key = await createKey(server.url, account);
    });
    afterAll(() => server.stop());

    it('refuses only failing attempts: valid keys and session tokens still pass', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < limit.maxFailures + 3; i += 1) {
        statuses.push((await me(server.url, { 'x-mcp-api-key': garbageKey(i) })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);

      // The same address, now over the limit, with valid credentials: never refused.
      const byKey = await me(server.url, { 'x-mcp-api-key': key.api_key });
      expect(byKey.status).toBe(200);
      expect(byKey.body.id).toBe(account.userId);
      const bySession = await me(server.url, { authorization: `Bearer ${account.accessToken}` });
      expect(bySession.status).toBe(200);

      // And failing again is still refused, with the time to wait.
      const refused = await me(server.url, { 'x-mcp-api-key': garbageKey(99) });
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe('too_many_requests');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it('does not count requests that carry no credential (an OAuth client discovering how to sign in)', async () => {
      // This address is past the limit (the test above), yet a request with nothing in it is
      // answered 401 with the usual challenge, never 429.
      const statuses: number[] = [];
      for (let i = 0; i < limit.maxFailures + 3; i += 1) {
        statuses.push((await me(server.url, {})).status);
        statuses.push((await request(server.url, 'POST', '/mcp', { body: {} })).status);
      }
      expect(new Set(statuses)).toEqual(new Set([401]));
    });

    it('ignores X-Forwarded-For when no proxy is trusted (no escaping the limit by spoofing)', async () => {
      const response = await me(server.url, {
        'x-mcp-api-key': garbageKey(100),
        'x-forwarded-for': '198.51.100.77',
      });
      expect(response.status).toBe(429);
    });
  });

  describe('behind a trusted proxy (PM_MCP_TRUST_PROXY)', () => {
    let server: TestServer;
    let account: TestAccount;
    let key: CreatedKey;

    beforeAll(async () => {
      server = await startTestServer({
        database,
        authFailureLimit: limit,
        env: { PM_MCP_TRUST_PROXY: 'loopback' },
      });
      account = await registerAccount(server.url);
      key = await createKey(server.url, account);
    });
    afterAll(() => server.stop());

    const from = (address: string, headers: Record<string, string>) =>
      me(server.url, { ...headers, 'x-forwarded-for': address });

    it('limits each client behind the proxy on its own', async () => {
      const attacker = '203.0.113.5';
      const statuses: number[] = [];
      for (let i = 0; i < limit.maxFailures + 1; i += 1) {
        statuses.push((await from(attacker, { 'x-mcp-api-key': garbageKey(i) })).status);
      }
      expect(statuses.at(-1)).toBe(429);
      // Another user behind the same proxy is not touched by the attacker's failures…
      expect((await from('203.0.113.6', { 'x-mcp-api-key': garbageKey(0) })).status).toBe(401);
      expect((await from('203.0.113.6', { 'x-mcp-api-key': key.api_key })).status).toBe(200);
      // …and the attacker's own valid credential still works.
      expect((await from(attacker, { 'x-mcp-api-key': key.api_key })).status).toBe(200);
      // The audit log records the client's address, not the proxy's.
      const audited = await server.app.database.db
        .selectFrom('audit_log')
        .select('ip')
        .where('event', '=', 'auth.failed')
        .execute();
      expect(audited.map((row) => row.ip)).toContain(attacker);
      expect(audited.map((row) => row.ip)).not.toContain('127.0.0.1');
    });

    it('limits one key prefix tried from many addresses', async () => {
      const leaked = await createKey(server.url, account, { name: 'leaked' });
      await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${leaked.id}`, {
        headers: { authorization: `Bearer ${account.accessToken}` },
      });
      const statuses: number[] = [];
      for (let i = 0; i < limit.maxFailures + 1; i += 1) {
        statuses.push(
          (await from(`198.51.100.${i + 1}`, { 'x-mcp-api-key': leaked.api_key })).status,
        );
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    });
  });
});

describe('the failed-credential limiter on PostgreSQL with two instances', () => {
  let first: TestServer;
  let second: TestServer;
  let account: TestAccount;
  let key: CreatedKey;

  beforeAll(async () => {
    const options = {
      database: 'postgres' as const,
      authFailureLimit: limit,
      env: { PM_MCP_TRUST_PROXY: '127.0.0.1/8' },
    };
    first = await startTestServer(options);
    second = await startTestServer({ ...options, sameDatabaseAs: first });
    account = await registerAccount(first.url);
    key = await createKey(first.url, account);
  });
  afterAll(async () => {
    await second.stop();
    await first.stop();
  });

  const from = (url: string, address: string, headers: Record<string, string>) =>
    me(url, { ...headers, 'x-forwarded-for': address });

  it('shares the counts: failures on one instance are refused on the other', async () => {
    const client = '192.0.2.10';
    for (let i = 0; i < limit.maxFailures; i += 1) {
      const target = i % 2 === 0 ? first.url : second.url;
      expect((await from(target, client, { 'x-mcp-api-key': garbageKey(i) })).status).toBe(401);
    }
    expect((await from(second.url, client, { 'x-mcp-api-key': garbageKey(50) })).status).toBe(429);
    expect((await from(first.url, client, { 'x-mcp-api-key': garbageKey(51) })).status).toBe(429);
    expect((await from(second.url, client, { 'x-mcp-api-key': key.api_key })).status).toBe(200);
  });

  it('counts concurrent failures on both instances exactly (an atomic increment)', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        from(i % 2 === 0 ? first.url : second.url, '192.0.2.11', {
          'x-mcp-api-key': garbageKey(i),
        }).then((response) => response.status),
      ),
    );
    expect(statuses.filter((status) => status === 401)).toHaveLength(limit.maxFailures);
    expect(statuses.filter((status) => status === 429)).toHaveLength(12 - limit.maxFailures);
  });

  it('keeps its counts in an UNLOGGED table, by address or key prefix', async () => {
    const { sql } = await import('kysely');
    const table = await sql<{ relpersistence: string }>`
      select relpersistence from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relname = 'auth_limits'`.execute(
      first.app.database.db,
    );
    expect(table.rows[0]?.relpersistence).toBe('u');
    const rows = await sql<{ subject: string }>`select subject from auth_limits`.execute(
      first.app.database.db,
    );
    // Subjects name an address or a key prefix, never a whole key.
    expect(rows.rows.some((row) => row.subject.includes('192.0.2.10'))).toBe(true);
    expect(rows.rows.some((row) => row.subject.includes(key.api_key))).toBe(false);
  });
});

describe('the shared limiter on PostgreSQL', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ database: 'postgres' });
  });
  afterAll(() => server.stop());

  it('starts a new window once the old one ended, and deletes expired rows', async () => {
    const { sql } = await import('kysely');
    const { PostgresAttemptLimiter } = await import('../../server/auth/failure-limiter.js');
    const db = server.app.database.db;
    const short = { maxAttempts: 1, windowMs: 200 };
    const first = new PostgresAttemptLimiter(db, 'test', short);
    expect(await first.count(['address:192.0.2.50'])).toBe(0);
    expect(await first.count(['address:192.0.2.50'])).toBeGreaterThan(0);
    const rowOf = async (subject: string) =>
      (
        await sql<{ attempts: number; expired: boolean }>`
          select attempts, resets_at <= clock_timestamp() as expired from auth_limits
          where subject = ${subject}`.execute(db)
      ).rows[0];
    // Wait (by the database's clock) for the window to end.
    const deadline = Date.now() + 30_000;
    while (!(await rowOf('test:address:192.0.2.50'))?.expired) {
      if (Date.now() > deadline) throw new Error('the window never ended');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The same instance counts afresh…
    expect(await first.count(['address:192.0.2.50'])).toBe(0);
    expect((await rowOf('test:address:192.0.2.50'))?.attempts).toBe(1);
    // …and an instance's first count deletes every expired row.
    await first.count(['address:192.0.2.51']);
    while (!(await rowOf('test:address:192.0.2.51'))?.expired) {
      if (Date.now() > deadline) throw new Error('the window never ended');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new PostgresAttemptLimiter(db, 'test', short).count(['address:192.0.2.52']);
    const deadlineForSweep = Date.now() + 30_000;
    while ((await rowOf('test:address:192.0.2.51')) !== undefined) {
      if (Date.now() > deadlineForSweep) throw new Error('the expired row was never deleted');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});
