import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import {
  decryptCredentials,
  encryptCredentials,
} from '../../server/connections/credentials-crypto.js';
import { ConnectionService } from '../../server/connections/connections.js';
import { deriveKey } from '../../server/crypto.js';
import { databaseKinds } from '../support/databases.js';
import { registerAccount, type TestAccount } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('provider credential encryption', () => {
  const key = randomBytes(32);
  const binding = { userId: 'u1', connectionId: 'c1', keyVersion: 1 };

  it('round-trips, with a fresh IV on every write', () => {
    const first = encryptCredentials(key, binding, { email: 'a@b.c', apiToken: 'token-value' });
    const second = encryptCredentials(key, binding, { email: 'a@b.c', apiToken: 'token-value' });
    expect(first).not.toBe(second);
    expect(first).not.toContain('token-value');
    expect(decryptCredentials(key, binding, first)).toEqual({
      email: 'a@b.c',
      apiToken: 'token-value',
    });
  });

  it('refuses a ciphertext bound to another row, a wrong key, or a tampered tag', () => {
    const stored = encryptCredentials(key, binding, { apiToken: 'token-value' });
    expect(() => decryptCredentials(key, { ...binding, connectionId: 'c2' }, stored)).toThrow(
      /could not be decrypted/,
    );
    expect(() => decryptCredentials(key, { ...binding, userId: 'u2' }, stored)).toThrow(
      /could not be decrypted/,
    );
    expect(() => decryptCredentials(randomBytes(32), binding, stored)).toThrow(
      /could not be decrypted/,
    );
    const [version, iv, tag, body] = stored.split('.');
    const flipped = Buffer.from(tag ?? '', 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() =>
      decryptCredentials(
        key,
        binding,
        [version, iv, flipped.toString('base64url'), body].join('.'),
      ),
    ).toThrow();
  });
});

describe.each(databaseKinds)('stored connections on %s', (database) => {
  let server: TestServer;
  let alice: TestAccount;
  let bob: TestAccount;
  let service: ConnectionService;
  const tokens = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')];

  beforeAll(async () => {
    server = await startTestServer({ database });
    alice = await registerAccount(server.url);
    bob = await registerAccount(server.url);
    // The same store the server uses, with a checker that accepts: this suite is about storage.
    service = new ConnectionService({
      db: server.app.database.db,
      encryptionKey: deriveKey(server.app.config.secretKey, 'provider-credentials'),
      now: () => new Date(),
      checkCredentials: () => Promise.resolve({ ok: true, message: 'Signed in' }),
    });
  });
  afterAll(() => server.stop());

  it('keeps no plaintext token in the database, and a ciphertext copied to another row fails to decrypt', async () => {
    const mine = await service.create(alice.userId, {
      providerType: 'jira',
      name: 'Work Jira',
      baseUrl: 'https://example.atlassian.net/',
      email: 'alice@example.com',
      apiToken: tokens[0] ?? '',
    });
    const theirs = await service.create(bob.userId, {
      providerType: 'openproject',
      name: 'OP',
      baseUrl: 'https://op.example.com',
      apiToken: tokens[1] ?? '',
    });
    expect(mine.base_url).toBe('https://example.atlassian.net');
    const rows = await server.app.database.db
      .selectFrom('pm_provider_connections')
      .selectAll()
      .execute();
    const dump = JSON.stringify(rows);
    for (const token of tokens) expect(dump).not.toContain(token);

    const decrypted = await service.forUserConnection(alice.userId, mine.id);
    expect(decrypted?.settings().credentials).toEqual({
      email: 'alice@example.com',
      apiToken: tokens[0],
    });

    const bobsRow = rows.find((row) => row.id === theirs.id);
    await sql`update pm_provider_connections set encrypted_credentials = ${bobsRow?.encrypted_credentials ?? ''}
      where id = ${mine.id}`.execute(server.app.database.db);
    const tampered = await service.forUserConnection(alice.userId, mine.id);
    expect(() => tampered?.settings()).toThrow(/could not be decrypted/);
  });

  it("never returns another user's connection", async () => {
    const [bobsConnection] = await service.list(bob.userId);
    expect(bobsConnection).toBeDefined();
    expect(await service.forUserConnection(alice.userId, bobsConnection?.id ?? '')).toBeUndefined();
    await expect(service.test(alice.userId, bobsConnection?.id ?? '')).rejects.toThrow(/not found/);
    await expect(service.remove(alice.userId, bobsConnection?.id ?? '')).rejects.toThrow(
      /not found/,
    );
    expect((await service.list(alice.userId)).map((item) => item.provider_type)).toEqual(['jira']);
  });
});
