import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { generateApiKey } from '../../server/keys/key-format.js';
import { databaseKinds } from '../support/databases.js';
import { createKey, registerAccount, request, type TestAccount } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

const day = 86_400_000;

interface RotatedKey {
  id: string;
  api_key: string;
  created_at: string;
  expires_at: string | null;
}

describe.each(databaseKinds)('key lifetimes on %s', (database) => {
  describe('rotation', () => {
    let server: TestServer;
    let account: TestAccount;
    let clock = Date.now();

    beforeAll(async () => {
      server = await startTestServer({ database, now: () => new Date(clock) });
      account = await registerAccount(server.url);
    });
    afterAll(() => server.stop());

    const rotate = (keyId: string, headers: Record<string, string>) =>
      request<RotatedKey>(server.url, 'POST', `/api/users/me/mcp-keys/${keyId}/rotate`, {
        headers,
      });

    it('by the key itself keeps its expiry; only a session extends it, within the maximum', async () => {
      const original = await createKey(server.url, account, { expires_in_days: 30 });
      const originalExpiry = original.expires_at ?? '';
      clock += 20 * day;

      const selfRotated = await rotate(original.id, { 'x-mcp-api-key': original.api_key });
      expect(selfRotated.status).toBe(201);
      expect(selfRotated.body.expires_at).toBe(originalExpiry);
      // Rotating itself again and again never gains a day.
      const again = await rotate(selfRotated.body.id, {
        authorization: `Bearer ${selfRotated.body.api_key}`,
      });
      expect(again.status).toBe(201);
      expect(again.body.expires_at).toBe(originalExpiry);
      const listed = await request<{ keys: { id: string; expires_at: string | null }[] }>(
        server.url,
        'GET',
        '/api/users/me/mcp-keys',
        { headers: { 'x-mcp-api-key': again.body.api_key } },
      );
      expect(listed.body.keys.find((key) => key.id === again.body.id)?.expires_at).toBe(
        originalExpiry,
      );

      // The signed-in owner may extend it: at least the default lifetime (90 days) from now.
      const bySession = await rotate(again.body.id, {
        authorization: `Bearer ${account.accessToken}`,
      });
      expect(bySession.status).toBe(201);
      const extended = Date.parse(bySession.body.expires_at ?? '');
      expect(extended).toBe(clock + 90 * day);
      expect(extended).toBeGreaterThan(Date.parse(originalExpiry));
      expect(extended - clock).toBeLessThanOrEqual(365 * day);
    });

    it('by the key itself, once the kept expiry has passed, leaves a key that no longer works', async () => {
      const key = await createKey(server.url, account, { expires_in_days: 2 });
      clock += 1 * day;
      const rotated = await rotate(key.id, { 'x-mcp-api-key': key.api_key });
      expect(rotated.status).toBe(201);
      clock += 1.5 * day;
      const me = await request(server.url, 'GET', '/api/users/me', {
        headers: { 'x-mcp-api-key': rotated.body.api_key },
      });
      expect(me.status).toBe(401);
    });
  });

  describe('an imported key without expiry', () => {
    let server: TestServer;
    let account: TestAccount;

    beforeAll(async () => {
      server = await startTestServer({ database });
      account = await registerAccount(server.url);
    });
    afterAll(() => server.stop());

    const importKey = async (createdAt: string): Promise<{ id: string; plaintext: string }> => {
      const id = crypto.randomUUID();
      const plaintext = generateApiKey();
      await sql`insert into user_mcp_api_keys (id, user_id, name, key_prefix, scope, is_active, created_at, api_key)
        values (${id}, ${account.userId}, 'imported', 'legacy', 'write', ${database === 'sqlite' ? 1 : true},
        ${createdAt}, ${plaintext})`.execute(server.app.database.db);
      const { migrateToLatest } = await import('../../server/db/migrate.js');
      await migrateToLatest(server.app.database.db, { schema: server.app.database.schema });
      return { id, plaintext };
    };

    it('expires created_at + the maximum: one from 2019 is refused under a 365-day maximum', async () => {
      const createdAt = '2019-03-01T10:00:00.000Z';
      const legacy = await importKey(createdAt);
      const me = await request(server.url, 'GET', '/api/users/me', {
        headers: { 'x-mcp-api-key': legacy.plaintext },
      });
      expect(me.status).toBe(401);
      expect(me.body).toEqual({ error: 'invalid_api_key', message: 'Invalid API key' });

      const effectiveExpiry = new Date(Date.parse(createdAt) + 365 * day).toISOString();
      const listed = await request<{ keys: { id: string; expires_at: string | null }[] }>(
        server.url,
        'GET',
        '/api/users/me/mcp-keys',
        { headers: { authorization: `Bearer ${account.accessToken}` } },
      );
      expect(listed.body.keys.find((key) => key.id === legacy.id)?.expires_at).toBe(
        effectiveExpiry,
      );
      const checked = await server.app.keys.checkKey(legacy.plaintext);
      expect(checked.status).toBe('expired');
      expect(await server.app.keys.findUnusable([legacy.id])).toEqual(new Set([legacy.id]));
    });

    it('one imported recently still works until created_at + the maximum', async () => {
      const legacy = await importKey(new Date(Date.now() - 10 * day).toISOString());
      const me = await request(server.url, 'GET', '/api/users/me', {
        headers: { 'x-mcp-api-key': legacy.plaintext },
      });
      expect(me.status).toBe(200);
    });
  });

  describe('without a maximum', () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startTestServer({
        database,
        env: { PM_MCP_KEY_DEFAULT_EXPIRY_DAYS: 'none', PM_MCP_KEY_MAX_EXPIRY_DAYS: 'none' },
      });
    });
    afterAll(() => server.stop());

    it('an imported key from 2019 without expiry still authenticates', async () => {
      const account = await registerAccount(server.url);
      const plaintext = generateApiKey();
      await sql`insert into user_mcp_api_keys (id, user_id, name, key_prefix, scope, is_active, created_at, api_key)
        values (${crypto.randomUUID()}, ${account.userId}, 'imported', 'legacy', 'write', ${database === 'sqlite' ? 1 : true},
        '2019-03-01T10:00:00.000Z', ${plaintext})`.execute(server.app.database.db);
      const { migrateToLatest } = await import('../../server/db/migrate.js');
      await migrateToLatest(server.app.database.db, { schema: server.app.database.schema });
      const me = await request(server.url, 'GET', '/api/users/me', {
        headers: { 'x-mcp-api-key': plaintext },
      });
      expect(me.status).toBe(200);
    });
  });
});
