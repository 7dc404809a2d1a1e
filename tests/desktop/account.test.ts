import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAccountService, type AccountService } from '../../main/account/account-service.js';
import {
  createMemorySecretStore,
  type MemorySecretStore,
} from '../../main/keychain/memory-store.js';
import { secretNames } from '../../main/keychain/secret-store.js';
import { createSettingsStore, type SettingsStore } from '../../main/state/settings.js';
import { randomEmail, randomPassword, registerAccount, request } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { desktopErrorOf } from '../support/desktop-errors.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const folders: string[] = [];
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Harness {
  account: AccountService;
  secrets: MemorySecretStore;
  settings: SettingsStore;
}

function harness(now: () => Date = () => new Date()): Harness {
  const dir = mkdtempSync(path.join(tmpdir(), 'pm-mcp-account-'));
  folders.push(dir);
  const secrets = createMemorySecretStore();
  const settings = createSettingsStore(dir);
  return {
    account: createAccountService({ settings, secrets, hostname: 'test-laptop', now }),
    secrets,
    settings,
  };
}

const failure = desktopErrorOf;

describe('signing in', () => {
  it('mints a key named after the machine and keeps both secrets only in the keychain', async () => {
    const { account, secrets, settings } = harness();
    const { email, password } = await registerAccount(server.url);
    const result = await account.signIn({ serverUrl: server.url, email, password });

    expect(result.keyMinted).toBe(true);
    expect(result.mcpKey).toMatch(/^mcp_/);
    expect(secrets.entries().get(secretNames.mcpKey(server.url))).toBe(result.mcpKey);
    expect(secrets.entries().get(secretNames.refreshToken(server.url))).toBeTruthy();
    const saved = await settings.load();
    expect(saved.account?.email).toBe(email);
    expect(saved.machineKey?.name).toBe('test-laptop');
    expect(JSON.stringify(saved)).not.toContain(result.mcpKey);

    const keys = await account.listKeys();
    expect(keys.map((k) => k.id)).toEqual([saved.machineKey?.id]);
  });

  it('signing in again keeps the working key instead of minting another', async () => {
    const { account } = harness();
    const { email, password } = await registerAccount(server.url);
    const first = await account.signIn({ serverUrl: server.url, email, password });
    const second = await account.signIn({ serverUrl: server.url, email, password });
    expect(second.keyMinted).toBe(false);
    expect(second.mcpKey).toBe(first.mcpKey);
    expect(await account.listKeys()).toHaveLength(1);
  });

  it('creates the account first when asked', async () => {
    const { account } = harness();
    const email = randomEmail();
    const result = await account.signIn({
      serverUrl: server.url,
      email,
      password: randomPassword(),
      createAccount: true,
      name: 'New Person',
    });
    expect(result.settings.account).toMatchObject({ email, name: 'New Person' });
  });

  it('a wrong password gets the server message and stores nothing', async () => {
    const { account, secrets, settings } = harness();
    const { email } = await registerAccount(server.url);
    const error = await failure(
      account.signIn({ serverUrl: server.url, email, password: randomPassword() }),
    );
    expect(error.code).toBe('invalid_credentials');
    expect(error.message).toBe('Invalid email or password');
    expect(secrets.entries().size).toBe(0);
    expect((await settings.load()).account).toBeNull();
  });

  it('an unreachable server is named in the error', async () => {
    const { account } = harness();
    const error = await failure(
      account.signIn({ serverUrl: 'http://127.0.0.1:9', email: 'a@b.test', password: 'x' }),
    );
    expect(error.code).toBe('server_unreachable');
    expect(error.message).toContain('http://127.0.0.1:9');
  });

  it('no keychain: refuses before anything is created on the server', async () => {
    const { account, secrets } = harness();
    const { email, password, accessToken } = await registerAccount(server.url);
    secrets.setUnavailable('No OS keychain is available: test');
    const error = await failure(account.signIn({ serverUrl: server.url, email, password }));
    expect(error.code).toBe('keychain_unavailable');
    const keys = await request<{ keys: unknown[] }>(server.url, 'GET', '/api/users/me/mcp-keys', {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(keys.body.keys).toHaveLength(0);
  });
});

describe('the session', () => {
  it('refreshes with the rotating refresh token and stores the new one', async () => {
    let clock = Date.now();
    const { account, secrets } = harness(() => new Date(clock));
    const { email, password } = await registerAccount(server.url);
    await account.signIn({ serverUrl: server.url, email, password });
    const before = secrets.entries().get(secretNames.refreshToken(server.url));
    clock += 3_600_000; // the cached access token is now considered stale
    await account
      .addProvider({
        providerType: 'jira',
        name: 'x',
        baseUrl: 'http://127.0.0.1:9',
        email,
        apiToken: 'token-that-is-long-enough',
      })
      .catch(() => undefined);
    const after = secrets.entries().get(secretNames.refreshToken(server.url));
    expect(after).toBeTruthy();
    expect(after).not.toBe(before);
  });

  it('a session that ended reports not signed in', async () => {
    const { account, secrets } = harness();
    const { email, password } = await registerAccount(server.url);
    await account.signIn({ serverUrl: server.url, email, password });
    const fresh = createAccountService({
      settings: createSettingsStore(folders.at(-1) ?? ''),
      secrets,
      hostname: 'h',
      now: () => new Date(),
    });
    await secrets.set(secretNames.refreshToken(server.url), 'not-a-real-refresh-token');
    const error = await failure(fresh.replaceMachineKey());
    expect(error.code).toBe('not_signed_in');
    expect(error.message).toMatch(/pm-mcp login/);
  });

  it('commands before sign-in say how to sign in', async () => {
    const { account } = harness();
    const error = await failure(account.listKeys());
    expect(error.code).toBe('not_signed_in');
    expect(error.message).toMatch(/pm-mcp login --server/);
  });
});

describe("this machine's key", () => {
  it('rotation stores the new key and the old one stops working', async () => {
    const { account, secrets } = harness();
    const { email, password } = await registerAccount(server.url);
    const { mcpKey: oldKey } = await account.signIn({ serverUrl: server.url, email, password });
    const rotated = await account.rotateMachineKey();
    expect(rotated.mcpKey).not.toBe(oldKey);
    expect(secrets.entries().get(secretNames.mcpKey(server.url))).toBe(rotated.mcpKey);
    const oldUse = await request(server.url, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': oldKey },
    });
    expect(oldUse.status).toBe(401);
    expect(await account.checkMachineKey()).toBe('ok');
  });

  it('rotates automatically when close to expiry, and not before', async () => {
    let clock = Date.now();
    const { account } = harness(() => new Date(clock));
    const { email, password } = await registerAccount(server.url);
    const signedIn = await account.signIn({ serverUrl: server.url, email, password });
    expect(await account.rotateMachineKeyIfDue()).toBeUndefined();
    const expiresAt = Date.parse(signedIn.settings.machineKey?.expiresAt ?? '');
    expect(Number.isNaN(expiresAt)).toBe(false);
    clock = expiresAt - 3 * 86_400_000;
    const rotated = await account.rotateMachineKeyIfDue();
    expect(rotated?.mcpKey).toMatch(/^mcp_/);
    expect(rotated?.mcpKey).not.toBe(signedIn.mcpKey);
  });

  it('without a session a due key is left alone; rotating it with itself keeps its expiry', async () => {
    let clock = Date.now();
    const { account, secrets } = harness(() => new Date(clock));
    const { email, password } = await registerAccount(server.url);
    const signedIn = await account.signIn({ serverUrl: server.url, email, password });
    const expiresAt = signedIn.settings.machineKey?.expiresAt ?? '';
    // The session ends on the server (signed out elsewhere); the key is still valid.
    const refreshToken = secrets.entries().get(secretNames.refreshToken(server.url)) ?? '';
    const loggedOut = await request(server.url, 'POST', '/api/auth/logout', {
      body: { refresh_token: refreshToken },
    });
    expect(loggedOut.status).toBe(204);
    clock = Date.parse(expiresAt) - 3 * 86_400_000;
    // A self-rotation could not extend it (the server keeps a self-rotated key's expiry).
    expect(await account.rotateMachineKeyIfDue()).toBeUndefined();
    expect(secrets.entries().get(secretNames.mcpKey(server.url))).toBe(signedIn.mcpKey);
    // Asked for explicitly (e.g. the key may have leaked), the key replaces itself.
    const rotated = await account.rotateMachineKey();
    expect(rotated.mcpKey).not.toBe(signedIn.mcpKey);
    expect(rotated.key.expiresAt).toBe(expiresAt);
  });

  it('a key revoked elsewhere is reported rejected and can be replaced', async () => {
    const { account } = harness();
    const other = harness();
    const { email, password } = await registerAccount(server.url);
    const signedIn = await account.signIn({ serverUrl: server.url, email, password });
    await other.account.signIn({ serverUrl: server.url, email, password });
    await other.account.revokeKey(signedIn.settings.machineKey?.id ?? '');
    expect(await account.checkMachineKey()).toBe('rejected');
    const replaced = await account.replaceMachineKey();
    expect(await account.checkMachineKey()).toBe('ok');
    expect(replaced.key.id).not.toBe(signedIn.settings.machineKey?.id);
  });
});

describe('signing out', () => {
  it('revokes the key on the server and clears the keychain', async () => {
    const { account, secrets, settings } = harness();
    const { email, password } = await registerAccount(server.url);
    const { mcpKey } = await account.signIn({ serverUrl: server.url, email, password });
    const result = await account.signOut();
    expect(result).toEqual({ keyRevokedOnServer: true, warning: null });
    expect(secrets.entries().size).toBe(0);
    expect((await settings.load()).account).toBeNull();
    const use = await request(server.url, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': mcpKey },
    });
    expect(use.status).toBe(401);
  });

  it('still signs out when the server is down, and says the key is still active', async () => {
    const local = await startTestServer();
    const { account, secrets } = harness();
    const { email, password } = await registerAccount(local.url);
    await account.signIn({ serverUrl: local.url, email, password });
    await local.stop();
    const result = await account.signOut();
    expect(result.keyRevokedOnServer).toBe(false);
    expect(result.warning).toMatch(/could not be reached.*still active/);
    expect(secrets.entries().size).toBe(0);
  });
});
