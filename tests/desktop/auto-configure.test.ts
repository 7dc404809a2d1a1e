/**
 * Cursor configured by itself after sign-in (SPEC §1: "writes Cursor's mcp.json"), with an undo
 * that puts the file back byte for byte; and every client listed, installed ones first. The real
 * core against the real server, real files in a temporary HOME; only the proxy is a stand-in.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDesktopCore, type DesktopCore } from '../../main/core/desktop-core.js';
import type { LoopbackProxyFactory } from '../../main/core/proxy-port.js';
import { createMemorySecretStore } from '../../main/keychain/memory-store.js';
import { secretNames } from '../../main/keychain/secret-store.js';
import { registerAccount } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

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

/** A proxy that only says it runs: these tests are about files, not forwarding. */
const idleProxy: LoopbackProxyFactory = ({ port }) => {
  let running = false;
  return {
    start: () => {
      running = true;
      return Promise.resolve();
    },
    stop: () => {
      running = false;
      return Promise.resolve();
    },
    status: () => ({ running, port, requests: 0, lastRequestAt: null, lastUpstreamError: null }),
    onUpstreamUnauthorized: () => () => undefined,
  };
};

function harness(): {
  core: DesktopCore;
  home: string;
  secrets: ReturnType<typeof createMemorySecretStore>;
} {
  const home = mkdtempSync(path.join(tmpdir(), 'pm-mcp-auto-'));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const secrets = createMemorySecretStore();
  const core = createDesktopCore({
    configDir: path.join(home, 'config'),
    secretStore: secrets,
    clientEnvironment: { homeDir: home, platform: 'linux', env: {} },
    hostname: 'auto-test-machine',
    bridgeLauncher: { command: '/usr/bin/node', args: ['/opt/pm-mcp/bin/pm-mcp.js'] },
    createProxy: idleProxy,
    generateLocalToken: () => randomBytes(32).toString('base64url'),
    watchSettings: false,
  });
  cleanups.push(() => core.stop());
  return { core, home, secrets };
}

async function signIn(core: DesktopCore) {
  const account = await registerAccount(server.url);
  return core.signIn({ serverUrl: server.url, email: account.email, password: account.password });
}

const cursorFile = (home: string): string => path.join(home, '.cursor', 'mcp.json');

/** A user's own file: another server, a comment, odd spacing, no trailing newline. */
const usersOwnFile =
  '{\n  // my servers\n  "mcpServers": {\n     "other": { "url": "https://example.test/mcp" }\n  }\n}';

describe('Cursor, configured automatically after sign-in', () => {
  it('installed with no pm-server entry: written and shown; undo restores the file byte for byte', async () => {
    const { core, home, secrets } = harness();
    mkdirSync(path.join(home, '.cursor'));
    writeFileSync(cursorFile(home), usersOwnFile);
    chmodSync(cursorFile(home), 0o640);
    const before = readFileSync(cursorFile(home));
    await core.start();

    const state = await signIn(core);
    expect(state.autoConfigured).toMatchObject({ client: 'cursor', path: cursorFile(home) });
    const written = readFileSync(cursorFile(home), 'utf8');
    expect(written).toContain('// my servers');
    expect(written).toContain('"other"');
    expect(written).toContain(
      `Bearer ${secrets.entries().get(secretNames.localProxyToken) ?? 'missing'}`,
    );
    expect(statSync(cursorFile(home)).mode & 0o777).toBe(0o600);
    expect(state.clients.find((c) => c.client === 'cursor')?.state).toBe('current');

    const undone = await core.undoAutoConfigure();
    expect(readFileSync(cursorFile(home)).equals(before)).toBe(true);
    expect(statSync(cursorFile(home)).mode & 0o777).toBe(0o640);
    expect(existsSync(`${cursorFile(home)}.pm-mcp.undo`)).toBe(false);
    expect(undone.autoConfigured).toBeNull();
    // Not configured any more (so not "lost its entry"), and not written again at the next sign-in.
    expect(undone.level).toBe('connected');
    expect(await core.getSettings()).toMatchObject({ autoConfigureCursor: false });
    await expect(core.undoAutoConfigure()).rejects.toMatchObject({ code: 'not_found' });
  });

  it('installed without a file: created; undo removes it again', async () => {
    const { core, home } = harness();
    mkdirSync(path.join(home, '.cursor'));
    await core.start();
    expect((await signIn(core)).autoConfigured?.client).toBe('cursor');
    expect(existsSync(cursorFile(home))).toBe(true);
    await core.undoAutoConfigure();
    expect(existsSync(cursorFile(home))).toBe(false);
  });

  it('not installed: nothing is written', async () => {
    const { core, home } = harness();
    await core.start();
    const state = await signIn(core);
    expect(state.autoConfigured).toBeNull();
    expect(existsSync(path.join(home, '.cursor'))).toBe(false);
  });

  it('the setting off: nothing is written', async () => {
    const { core, home } = harness();
    mkdirSync(path.join(home, '.cursor'));
    writeFileSync(cursorFile(home), usersOwnFile);
    await core.start();
    await core.updateSettings({ autoConfigureCursor: false });
    const state = await signIn(core);
    expect(state.autoConfigured).toBeNull();
    expect(readFileSync(cursorFile(home), 'utf8')).toBe(usersOwnFile);
  });

  it('an entry already there (even a different one) is left alone', async () => {
    const { core, home } = harness();
    mkdirSync(path.join(home, '.cursor'));
    const theirs = '{"mcpServers":{"pm-server":{"url":"http://127.0.0.1:9999/mcp"}}}';
    writeFileSync(cursorFile(home), theirs);
    await core.start();
    expect((await signIn(core)).autoConfigured).toBeNull();
    expect(readFileSync(cursorFile(home), 'utf8')).toBe(theirs);
  });

  it('a file that does not parse is left byte-identical and the sign-in still succeeds', async () => {
    const { core, home } = harness();
    mkdirSync(path.join(home, '.cursor'));
    writeFileSync(cursorFile(home), '{ "mcpServers": ');
    await core.start();
    const state = await signIn(core);
    expect(state.user).not.toBeNull();
    expect(state.autoConfigured).toBeNull();
    expect(readFileSync(cursorFile(home), 'utf8')).toBe('{ "mcpServers": ');
  });

  it('undo after the file changed keeps the later change and removes only our entry', async () => {
    const { core, home } = harness();
    mkdirSync(path.join(home, '.cursor'));
    writeFileSync(cursorFile(home), usersOwnFile);
    await core.start();
    await signIn(core);
    const edited = readFileSync(cursorFile(home), 'utf8').replace(
      '"other"',
      '"added-later": { "url": "https://later.test/mcp" },\n     "other"',
    );
    writeFileSync(cursorFile(home), edited);
    await core.undoAutoConfigure();
    const after = readFileSync(cursorFile(home), 'utf8');
    expect(after).toContain('"added-later"');
    expect(after).toContain('"other"');
    expect(after).not.toContain('pm-server');
  });

  it('keeps the entry true when the port or the local token changes; keep drops the undo', async () => {
    const { core, home, secrets } = harness();
    mkdirSync(path.join(home, '.cursor'));
    writeFileSync(cursorFile(home), usersOwnFile);
    await core.start();
    await signIn(core);

    await core.updateSettings({ proxyPort: 18_766 });
    expect(readFileSync(cursorFile(home), 'utf8')).toContain('http://127.0.0.1:18766/mcp');
    const changes = await core.rotateLocalToken();
    expect(changes.map((c) => c.client)).toEqual(['cursor']);
    const token = secrets.entries().get(secretNames.localProxyToken) ?? 'missing';
    expect(readFileSync(cursorFile(home), 'utf8')).toContain(`Bearer ${token}`);
    expect((await core.getState()).clients.find((c) => c.client === 'cursor')?.state).toBe(
      'current',
    );

    const kept = await core.keepAutoConfigure();
    expect(kept.autoConfigured).toBeNull();
    expect(existsSync(`${cursorFile(home)}.pm-mcp.undo`)).toBe(false);
    expect(readFileSync(cursorFile(home), 'utf8')).toContain('pm-server');
  });
});

describe('every client listed, installed ones first', () => {
  it('lists every client once, installed first, with install links where the client has one', async () => {
    const { core, home } = harness();
    mkdirSync(path.join(home, '.codeium', 'windsurf'), { recursive: true });
    mkdirSync(path.join(home, '.config', 'Claude'), { recursive: true });
    await core.start();
    const { clients } = await core.currentState();
    expect(clients.slice(0, 2).map((c) => c.client)).toEqual(['windsurf', 'claude-desktop']);
    expect(clients.slice(0, 2).every((c) => c.installed)).toBe(true);
    expect(clients.slice(2).every((c) => !c.installed)).toBe(true);
    expect(new Set(clients.map((c) => c.client)).size).toBe(clients.length);
    const links = Object.fromEntries(clients.map((c) => [c.client, c.installLink]));
    expect(links.cursor).toMatch(/^cursor:\/\/anysphere\.cursor-deeplink\/mcp\/install\?/);
    expect(links.vscode).toMatch(/^vscode:mcp\/install\?/);
    expect(links.windsurf).toBeNull();
    const token = (await core.proxyEndpoint()).localToken;
    for (const link of Object.values(links)) expect(link ?? '').not.toContain(token);
  });
});
