import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AppState, ProxyStatus } from '../../preload/contract.js';
import { createDesktopCore, type DesktopCore } from '../../main/core/desktop-core.js';
import type {
  LoopbackProxyFactory,
  LoopbackProxyHandle,
  ProxyCredentials,
} from '../../main/core/proxy-port.js';
import { DesktopError } from '../../main/errors.js';
import {
  createMemorySecretStore,
  type MemorySecretStore,
} from '../../main/keychain/memory-store.js';
import { secretNames } from '../../main/keychain/secret-store.js';
import { registerAccount, request, type TestAccount } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** An in-memory stand-in for main/proxy: records what the core gives it and lets a test fire a 401. */
interface FakeProxy extends LoopbackProxyHandle {
  port: number;
  upstreamBaseUrl: string;
  credentials: ProxyCredentials;
  running: boolean;
  fireUnauthorized(): void;
}

function fakeProxyFactory(options: { failStart?: DesktopError } = {}) {
  const created: FakeProxy[] = [];
  const factory: LoopbackProxyFactory = ({ port, upstreamBaseUrl, credentials }) => {
    const listeners = new Set<() => void>();
    const proxy: FakeProxy = {
      port,
      upstreamBaseUrl,
      credentials,
      running: false,
      start() {
        if (options.failStart) return Promise.reject(options.failStart);
        proxy.running = true;
        return Promise.resolve();
      },
      stop() {
        proxy.running = false;
        return Promise.resolve();
      },
      status(): ProxyStatus {
        return {
          running: proxy.running,
          port,
          requests: 0,
          lastRequestAt: null,
          lastUpstreamError: null,
        };
      },
      onUpstreamUnauthorized(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      fireUnauthorized() {
        for (const listener of listeners) listener();
      },
    };
    created.push(proxy);
    return proxy;
  };
  return { factory, created };
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Harness {
  core: DesktopCore;
  secrets: MemorySecretStore;
  proxies: FakeProxy[];
  home: string;
  configDir: string;
}

function harness(
  overrides: {
    secrets?: MemorySecretStore;
    home?: string;
    now?: () => Date;
    failStart?: DesktopError;
  } = {},
): Harness {
  const home = overrides.home ?? mkdtempSync(path.join(tmpdir(), 'pm-mcp-core-'));
  if (!overrides.home) cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const configDir = path.join(home, 'config');
  const secrets = overrides.secrets ?? createMemorySecretStore();
  const { factory, created } = fakeProxyFactory(
    overrides.failStart ? { failStart: overrides.failStart } : {},
  );
  const core = createDesktopCore({
    configDir,
    secretStore: secrets,
    clientEnvironment: { homeDir: home, platform: 'linux', env: {} },
    hostname: 'core-test-machine',
    bridgeLauncher: { command: '/usr/bin/node', args: ['/opt/pm-mcp/bin/pm-mcp.js'] },
    createProxy: factory,
    generateLocalToken: () => randomBytes(32).toString('base64url'),
    ...(overrides.now ? { now: overrides.now } : {}),
  });
  cleanups.push(() => core.stop());
  return { core, secrets, proxies: created, home, configDir };
}

async function signedIn(h: Harness, account?: TestAccount): Promise<TestAccount> {
  const user = account ?? (await registerAccount(server.url));
  await h.core.signIn({ serverUrl: server.url, email: user.email, password: user.password });
  return user;
}

const runningProxy = (h: Harness): FakeProxy => {
  const proxy = h.proxies.find((p) => p.running);
  if (!proxy) throw new Error('no running proxy');
  return proxy;
};

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('desktop core', () => {
  it('signed out: says so, and starts no proxy', async () => {
    const h = harness();
    const state = await h.core.start();
    expect(state.level).toBe('signed-out');
    expect(state.summary).toBe('Not signed in');
    expect(state.user).toBeNull();
    expect(h.proxies).toHaveLength(0);
  });

  it('sign-in starts the proxy with the key and local token held in memory', async () => {
    const h = harness();
    await h.core.start();
    const account = await signedIn(h);
    const state = await h.core.getState();

    expect(state.level).toBe('connected');
    expect(state.summary).toBe(`Connected to ${new URL(server.url).host} as ${account.email}`);
    expect(state.keyHealth).toBe('ok');
    expect(state.key?.isThisMachine).toBe(true);
    expect(state.key?.name).toBe('core-test-machine');
    const proxy = runningProxy(h);
    expect(proxy.upstreamBaseUrl).toBe(server.url);
    expect(proxy.port).toBe(8765);
    expect(proxy.credentials.apiKey()).toBe(
      h.secrets.entries().get(secretNames.mcpKey(server.url)),
    );
    expect(proxy.credentials.localToken()).toBe(
      h.secrets.entries().get(secretNames.localProxyToken),
    );
    expect(proxy.credentials.localToken()).not.toBe(proxy.credentials.apiKey());
  });

  it('rotation hands the new key to the running proxy at once, without a restart', async () => {
    const h = harness();
    await h.core.start();
    await signedIn(h);
    const proxy = runningProxy(h);
    const before = proxy.credentials.apiKey();
    const rotated = await h.core.rotateKey();
    expect(proxy.credentials.apiKey()).toBe(rotated.apiKey);
    expect(rotated.apiKey).not.toBe(before);
    expect(h.proxies.filter((p) => p.running)).toEqual([proxy]);
    expect(rotated.key.isThisMachine).toBe(true);
  });

  it('an upstream 401 marks the key rejected; replacing it mints a working key', async () => {
    const h = harness();
    await h.core.start();
    const account = await signedIn(h);
    const proxy = runningProxy(h);
    const oldKeyId = (await h.core.getState()).key?.id ?? '';
    // Revoked from elsewhere (e.g. the web or another machine), then the proxy sees a 401.
    await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${oldKeyId}`, {
      headers: { authorization: `Bearer ${account.accessToken}` },
    });
    const changes: AppState[] = [];
    h.core.onStateChanged((s) => changes.push(s));
    proxy.fireUnauthorized();
    await until(() => changes.some((s) => s.keyHealth === 'rejected'), 'rejected state');
    const rejected = changes.find((s) => s.keyHealth === 'rejected');
    expect(rejected?.level).toBe('attention');
    expect(rejected?.summary).toMatch(/revoked or has expired/);

    const state = await h.core.replaceRejectedKey();
    expect(state.keyHealth).toBe('ok');
    expect(state.level).toBe('connected');
    expect(state.key?.id).not.toBe(oldKeyId);
    const use = await request(server.url, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': proxy.credentials.apiKey() ?? '' },
    });
    expect(use.status).toBe(200);
  });

  it('a key revoked from another session shows as rejected on the next refresh', async () => {
    const h = harness();
    await h.core.start();
    const account = await signedIn(h);
    const keyId = (await h.core.getState()).key?.id ?? '';
    await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${keyId}`, {
      headers: { authorization: `Bearer ${account.accessToken}` },
    });
    const state = await h.core.getState();
    expect(state.keyHealth).toBe('rejected');
    expect(state.level).toBe('attention');
  });

  it('configures Cursor through the proxy by default and notices drift', async () => {
    const h = harness();
    await h.core.start();
    await signedIn(h);
    const change = await h.core.configureClient('cursor');
    const file = path.join(h.home, '.cursor', 'mcp.json');
    expect(change.path).toBe(file);
    expect(change.state).toBe('current');
    const written = JSON.parse(readFileSync(file, 'utf8')) as {
      mcpServers: Record<string, { url: string; headers: Record<string, string> }>;
    };
    const token = h.secrets.entries().get(secretNames.localProxyToken);
    expect(written.mcpServers['pm-server']).toEqual({
      url: 'http://127.0.0.1:8765/mcp',
      headers: { Authorization: `Bearer ${token ?? ''}` },
    });
    expect(readFileSync(file, 'utf8')).not.toContain('mcp_');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await h.core.getState()).clients.find((c) => c.client === 'cursor')?.state).toBe(
      'current',
    );

    writeFileSync(
      file,
      JSON.stringify({ mcpServers: { 'pm-server': { url: 'http://127.0.0.1:1/mcp' } } }),
    );
    const drifted = await h.core.getState();
    expect(drifted.clients.find((c) => c.client === 'cursor')?.state).toBe('changed');
    expect(drifted.level).toBe('attention');
    expect(drifted.summary).toMatch(/Cursor's PM MCP entry changed/);
    await h.core.configureClient('cursor');
    expect((await h.core.getState()).level).toBe('connected');

    await h.core.unconfigureClient('cursor');
    const after = await h.core.getState();
    expect(after.clients.find((c) => c.client === 'cursor')?.state).toBe('missing');
    expect(after.level).toBe('connected'); // not configured any more: not drift
  });

  it('follows a key rotated by another process sharing the config folder', async () => {
    const secrets = createMemorySecretStore();
    const tray = harness({ secrets });
    await tray.core.start();
    const account = await signedIn(tray);
    const proxy = runningProxy(tray);
    const cli = harness({ secrets, home: tray.home });
    const rotated = await cli.core.rotateKey();
    await until(() => proxy.credentials.apiKey() === rotated.apiKey, 'the tray to pick up the key');
    expect(account.email).toBeTruthy();
  });

  it('a rotated local token reaches a proxy run by another process and rewrites clients', async () => {
    const secrets = createMemorySecretStore();
    const tray = harness({ secrets });
    await tray.core.start();
    await signedIn(tray);
    await tray.core.configureClient('cursor');
    const proxy = runningProxy(tray);
    const oldToken = proxy.credentials.localToken();

    const cli = harness({ secrets, home: tray.home });
    const changes = await cli.core.rotateLocalToken();
    const newToken = secrets.entries().get(secretNames.localProxyToken);
    expect(newToken).toBeTruthy();
    expect(newToken).not.toBe(oldToken);
    expect(changes.map((c) => c.client)).toEqual(['cursor']);
    expect(readFileSync(path.join(tray.home, '.cursor', 'mcp.json'), 'utf8')).toContain(
      `Bearer ${newToken ?? ''}`,
    );
    await until(() => proxy.credentials.localToken() === newToken, 'the tray to pick up the token');
  });

  it('a proxy that cannot start is an error the tray shows', async () => {
    const h = harness({
      failStart: new DesktopError('port_in_use', 'Port 8765 on 127.0.0.1 is already in use'),
    });
    await h.core.start();
    await signedIn(h);
    const state = await h.core.getState();
    expect(state.level).toBe('error');
    expect(state.summary).toMatch(/already in use/);
    await expect(h.core.startProxy()).rejects.toMatchObject({ code: 'port_in_use' });
  });

  it('a new proxy port moves the proxy and rewrites configured clients', async () => {
    const h = harness();
    await h.core.start();
    await signedIn(h);
    await h.core.configureClient('cursor');
    const settings = await h.core.updateSettings({ proxyPort: 18_765 });
    expect(settings.proxyPort).toBe(18_765);
    expect(runningProxy(h).port).toBe(18_765);
    const file = readFileSync(path.join(h.home, '.cursor', 'mcp.json'), 'utf8');
    expect(file).toContain('http://127.0.0.1:18765/mcp');
    await expect(h.core.updateSettings({ proxyPort: 80 })).rejects.toMatchObject({
      code: 'usage',
    });
  });

  it('rotates a key close to expiry when it starts', async () => {
    const secrets = createMemorySecretStore();
    const first = harness({ secrets });
    await first.core.start({ proxy: false });
    await signedIn(first);
    const { key } = await first.core.getState();
    await first.core.stop();
    const nearExpiry = Date.parse(key?.expiresAt ?? '') - 2 * 86_400_000;
    const later = harness({ secrets, home: first.home, now: () => new Date(nearExpiry) });
    const state = await later.core.start({ proxy: false });
    expect(state.key?.id).not.toBe(key?.id);
  });

  it('no keychain: sign-in fails plainly, stores nothing, and the tray shows it', async () => {
    const secrets = createMemorySecretStore();
    secrets.setUnavailable('No OS keychain is available: start a Secret Service');
    const h = harness({ secrets });
    await h.core.start();
    const account = await registerAccount(server.url);
    await expect(
      h.core.signIn({ serverUrl: server.url, email: account.email, password: account.password }),
    ).rejects.toMatchObject({ code: 'keychain_unavailable' });
    const state = await h.core.getState();
    expect(state.level).toBe('error');
    expect(state.summary).toMatch(/No OS keychain/);
    expect(state.user).toBeNull();
    secrets.setUnavailable(undefined);
    expect(secrets.entries().size).toBe(0);
  });

  it('sign-out stops the proxy, revokes the key and clears the account secrets', async () => {
    const h = harness();
    await h.core.start();
    await signedIn(h);
    const proxy = runningProxy(h);
    const key = proxy.credentials.apiKey() ?? '';
    const state = await h.core.signOut();
    expect(state.level).toBe('signed-out');
    expect(proxy.running).toBe(false);
    expect([...h.secrets.entries().keys()]).toEqual([secretNames.localProxyToken]);
    const use = await request(server.url, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': key },
    });
    expect(use.status).toBe(401);
  });

  it('validates what the window sends', async () => {
    const h = harness();
    await expect(
      h.core.signIn({ serverUrl: '', email: 'a@b.test', password: 'x' }),
    ).rejects.toMatchObject({ code: 'usage' });
    await expect(h.core.configureClient('notepad' as 'cursor')).rejects.toMatchObject({
      code: 'usage',
    });
    await expect(h.core.listKeys()).rejects.toMatchObject({ code: 'not_signed_in' });
  });
});
