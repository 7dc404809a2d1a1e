import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AppState } from '../../preload/contract.js';
import { createDesktopCore, type DesktopCore } from '../../main/core/desktop-core.js';
import { createMemorySecretStore } from '../../main/keychain/memory-store.js';
import { registerAccount, request, type TestAccount } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freePort } from './cli-harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  server: TestServer;
  core: DesktopCore;
  home: string;
  account: TestAccount;
}

/** The real server, the core with the real loopback proxy (main/proxy), signed in. */
async function setUp(): Promise<Setup> {
  const server = await startTestServer();
  cleanups.push(() => server.stop().catch(() => undefined));
  const home = mkdtempSync(path.join(tmpdir(), 'pm-mcp-core-proxy-'));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const core = createDesktopCore({
    configDir: path.join(home, 'config'),
    secretStore: createMemorySecretStore(),
    clientEnvironment: { homeDir: home, platform: 'linux', env: {} },
    hostname: 'proxy-test-machine',
  });
  cleanups.push(() => core.stop());
  await core.updateSettings({ proxyPort: await freePort() });
  await core.start();
  const account = await registerAccount(server.url);
  await core.signIn({ serverUrl: server.url, email: account.email, password: account.password });
  return { server, core, home, account };
}

const entrySchema = z.object({
  mcpServers: z.object({
    'pm-server': z.object({ url: z.string(), headers: z.record(z.string(), z.string()) }),
  }),
});

async function cursorClient(home: string): Promise<Client> {
  const file = readFileSync(path.join(home, '.cursor', 'mcp.json'), 'utf8');
  const entry = entrySchema.parse(JSON.parse(file)).mcpServers['pm-server'];
  const client = new Client({ name: 'cursor-stand-in', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(entry.url), {
      requestInit: { headers: entry.headers },
    }),
  );
  cleanups.push(() => client.close());
  return client;
}

async function lastUsedOfKey(setup: Setup, keyId: string): Promise<string | null> {
  const response = await request<{ keys: { id: string; last_used_at: string | null }[] }>(
    setup.server.url,
    'GET',
    '/api/users/me/mcp-keys',
    { headers: { authorization: `Bearer ${setup.account.accessToken}` } },
  );
  return response.body.keys.find((k) => k.id === keyId)?.last_used_at ?? null;
}

describe('desktop core with the real loopback proxy', () => {
  it('a rotated key is used by the very next request, with no restart', async () => {
    const setup = await setUp();
    await setup.core.configureClient('cursor');
    const before = await setup.core.getState();
    expect(before.proxy.running).toBe(true);
    expect((await (await cursorClient(setup.home)).listTools()).tools.length).toBeGreaterThan(0);

    const rotated = await setup.core.rotateKey();
    expect(await lastUsedOfKey(setup, rotated.key.id)).toBeNull();
    // Straight away: a client (re)connecting through the same proxy process is served with the new key.
    const client = await cursorClient(setup.home);
    await client.callTool({ name: 'list_providers', arguments: {} });
    expect(await lastUsedOfKey(setup, rotated.key.id)).not.toBeNull();
    expect((await setup.core.getState()).proxy.requests).toBeGreaterThan(before.proxy.requests);
  });

  it('a 401 through the proxy marks the key rejected; a new key restores service', async () => {
    const setup = await setUp();
    await setup.core.configureClient('cursor');
    const keyId = (await setup.core.getState()).key?.id ?? '';
    await request(setup.server.url, 'DELETE', `/api/users/me/mcp-keys/${keyId}`, {
      headers: { authorization: `Bearer ${setup.account.accessToken}` },
    });
    const seen = new Promise<AppState>((resolve) => {
      setup.core.onStateChanged((state) => {
        if (state.keyHealth === 'rejected') resolve(state);
      });
    });
    await expect(cursorClient(setup.home)).rejects.toThrow();
    const rejected = await seen;
    expect(rejected.level).toBe('attention');

    const state = await setup.core.replaceRejectedKey();
    expect(state.keyHealth).toBe('ok');
    const client = await cursorClient(setup.home);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('list_providers');
  });

  it('an unreachable server is an error in the tray, naming the host', async () => {
    const setup = await setUp();
    await setup.server.stop();
    const state = await setup.core.getState();
    expect(state.serverReachable).toBe(false);
    expect(state.level).toBe('error');
    expect(state.summary).toBe(`Cannot reach ${new URL(setup.server.url).host}`);
  });
});
