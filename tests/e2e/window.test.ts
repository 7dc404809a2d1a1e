/**
 * The window, end to end, in real headless Chromium: the built renderer (renderer/dist) with the
 * real main-process services behind the contract. Only Electron's IPC transport is replaced, by
 * the test bridge (tests/e2e/ipc-bridge.ts, created with `enableTestBridge: true`). Behind it:
 * the real desktop core (createDesktopCore, with its real loopback proxy and client writers), the
 * real server (startTestServer, SQLite) and the fake Jira Cloud. MCP calls go through the proxy
 * with the SDK's real client, exactly as Cursor would.
 *
 * Keychain: the real keytar store when a D-Bus session is present (`npm test` provides one with
 * an unlocked gnome-keyring), under a service name unique to this run so parallel suites never
 * share entries; without a D-Bus session (a bare `npx vitest` by hand) the in-memory store, since
 * the keychain itself is not what this test is about (tests/desktop/keychain.test.ts is).
 *
 * Screenshots of each screen: test-results/screenshots/<name>.png.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createDesktopCore, type DesktopCore } from '../../main/core/desktop-core.js';
import { createKeytarSecretStore } from '../../main/keychain/keytar-store.js';
import { createMemorySecretStore } from '../../main/keychain/memory-store.js';
import { secretNames, type SecretStore } from '../../main/keychain/secret-store.js';
import { startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import { launchChromium } from '../support/browser.js';
import { request } from '../support/http.js';
import {
  authorizeInBrowser,
  signInOnServerPage,
  startCallbackReceiver,
  startOAuthTestServer,
  type CallbackReceiver,
} from '../support/oauth.js';
import type { TestServer } from '../support/server.js';
import { startIpcBridge, type IpcBridge } from './ipc-bridge.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const rendererDir = path.join(repoRoot, 'renderer', 'dist');
const screenshots = path.join(repoRoot, 'test-results', 'screenshots');

let jira: JiraFake;
let server: TestServer;
let home: string;
let secrets: SecretStore;
let keychainService: string | undefined;
let core: DesktopCore;
let bridge: IpcBridge;
let browser: Browser;
let page: Page;
let callback: CallbackReceiver;
/** The system browser of the app's browser sign-in (each test that uses it says what it does). */
let openInBrowser: (url: string) => Promise<void> = () =>
  Promise.reject(new Error('no browser sign-in expected here'));
const pageProblems: string[] = [];
const email = `e2e-${randomBytes(4).toString('hex')}@example.test`;
const password = randomBytes(15).toString('base64url');

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

const cursorFileSchema = z.object({
  mcpServers: z.object({
    'pm-server': z.object({ url: z.string(), headers: z.record(z.string(), z.string()) }),
  }),
});

function cursorFile(): string {
  return readFileSync(path.join(home, '.cursor', 'mcp.json'), 'utf8');
}

/** An MCP tool call through the loopback proxy, configured exactly as Cursor reads it. */
async function mcpCallThroughProxy(): Promise<string[]> {
  const entry = cursorFileSchema.parse(JSON.parse(cursorFile())).mcpServers['pm-server'];
  const client = new Client({ name: 'cursor-stand-in', version: '1.0.0' });
  try {
    await client.connect(
      new StreamableHTTPClientTransport(new URL(entry.url), {
        requestInit: { headers: entry.headers },
      }),
    );
    await client.callTool({ name: 'list_providers', arguments: {} });
    return (await client.listTools()).tools.map((tool) => tool.name);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** GET on the server's API through a separate session of the same user. */
async function serverGet<T>(apiPath: string): Promise<T> {
  const login = await request<{ access_token: string }>(server.url, 'POST', '/api/auth/login', {
    body: { email, password },
  });
  const response = await request<T>(server.url, 'GET', apiPath, {
    headers: { authorization: `Bearer ${login.body.access_token}` },
  });
  return response.body;
}

/** What the server itself says about one key. */
async function serverKey(prefix: string): Promise<{ id: string; last_used_at: string | null }> {
  const listed = await serverGet<{
    keys: { id: string; key_prefix: string; last_used_at: string | null }[];
  }>('/api/users/me/mcp-keys');
  const key = listed.keys.find((candidate) => candidate.key_prefix === prefix);
  if (!key) throw new Error(`the server has no key ${prefix}`);
  return key;
}

/** What the server itself says about one OAuth grant. */
async function serverGrant(
  clientName: string,
): Promise<{ allowed_tools: string[] | null; allowed_projects: string[] | null }> {
  const listed = await serverGet<{
    grants: {
      client_name: string;
      allowed_tools: string[] | null;
      allowed_projects: string[] | null;
    }[];
  }>('/api/users/me/grants');
  const grant = listed.grants.find((candidate) => candidate.client_name === clientName);
  if (!grant) throw new Error(`the server has no grant of ${clientName}`);
  return grant;
}

async function thisMachineKeyPrefix(): Promise<string> {
  const prefix = (await core.getState()).key?.keyPrefix;
  if (!prefix) throw new Error('no key on this machine');
  return prefix;
}

/** The plaintext key this machine holds (read from the keychain, for leak checks only). */
async function machineKey(): Promise<string> {
  const key = await secrets.get(secretNames.mcpKey(server.url));
  if (!key) throw new Error('no key in the keychain');
  return key;
}

async function expectNoFullKeyOnPage(): Promise<void> {
  const html = await page.content();
  expect(html).not.toContain(await machineKey());
  expect(html).not.toMatch(/mcp_[A-Za-z0-9_-]{30,}/);
}

/**
 * On a key's or a grant's row: opens its limits editor, ticks `tools` and the Acme Jira
 * connection, and saves with a bad single project first (the server's message is shown, nothing
 * is saved; then `whileRefused` runs), then without it; waits for the row to show them.
 */
async function limitInWindow(
  row: Locator,
  editButton: string | RegExp,
  tools: string[],
  whileRefused: () => Promise<void>,
): Promise<void> {
  await row.getByRole('button', { name: editButton }).click();
  const editor = page.getByTestId('limits-editor');
  for (const tool of tools) await editor.getByRole('checkbox', { name: tool }).check();
  await editor.getByRole('checkbox', { name: 'Acme Jira (all projects)' }).check();
  await editor.getByLabel('Single projects').fill('not-a-connection:X');
  await editor.getByRole('button', { name: 'Save limits' }).click();
  await editor
    .getByRole('alert')
    .getByText(/"not-a-connection:X" is not a project entry/)
    .waitFor();
  await whileRefused();
  await editor.getByLabel('Single projects').fill('');
  await editor.getByRole('button', { name: 'Save limits' }).click();
  await editor.waitFor({ state: 'detached' });
  await row
    .getByTestId('limit-tools')
    .getByText(`Tools: ${tools.join(', ')}`)
    .waitFor();
  await row.getByTestId('limit-projects').getByText('Projects: Acme Jira (all projects)').waitFor();
}

const nav = (name: string) =>
  page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name, exact: true });

beforeAll(async () => {
  if (!existsSync(path.join(rendererDir, 'index.html'))) {
    throw new Error('renderer/dist is missing: npm test builds it first (by hand: npx vite build)');
  }
  mkdirSync(screenshots, { recursive: true });
  jira = await startFakeJiraCloud();
  // OAuth on (public URL = its loopback address): editors sign in with it, the app through the browser.
  server = await startOAuthTestServer({ providerHttp: { maxAttempts: 1, timeoutMs: 3_000 } });
  callback = await startCallbackReceiver();
  home = mkdtempSync(path.join(tmpdir(), 'pm-mcp-e2e-'));
  if (process.env.DBUS_SESSION_BUS_ADDRESS) {
    keychainService = `pm-mcp-e2e-${randomBytes(4).toString('hex')}`;
    secrets = createKeytarSecretStore({ service: keychainService, timeoutMs: 10_000 });
  } else {
    console.info('[e2e] no D-Bus session: using the in-memory keychain for this run');
    secrets = createMemorySecretStore();
  }
  core = createDesktopCore({
    configDir: path.join(home, 'config'),
    secretStore: secrets,
    clientEnvironment: { homeDir: home, platform: 'linux', env: {} },
    hostname: 'e2e-laptop',
    openUrl: (url) => openInBrowser(url),
  });
  await core.updateSettings({ proxyPort: await freePort() });
  await core.start();
  bridge = await startIpcBridge({ enableTestBridge: true, services: core, rendererDir });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1000, height: 780 }, colorScheme: 'light' });
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      pageProblems.push(`${message.type()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => pageProblems.push(`pageerror: ${error.message}`));
});

afterAll(async () => {
  await browser.close().catch(() => undefined);
  await bridge.stop().catch(() => undefined);
  await callback.close().catch(() => undefined);
  await core.stop().catch(() => undefined);
  if (keychainService) {
    for (const name of [
      secretNames.mcpKey(server.url),
      secretNames.refreshToken(server.url),
      secretNames.localProxyToken,
      secretNames.probe,
    ]) {
      await secrets.delete(name).catch(() => undefined);
    }
  }
  const logs = server.logs.join('');
  await server.stop().catch(() => undefined);
  await jira.stop().catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
  // Nothing secret in the server's logs, and no MCP key ever reached the provider.
  expect(logs).not.toMatch(/mcp_[A-Za-z0-9_-]{30,}/);
  expect(logs).not.toContain(password);
  expect(jira.recordedText()).not.toMatch(/mcp_/);
});

describe('the window in Chromium, with the real services behind the contract', () => {
  it('signs in (creating the account); the overview shows the user and the key prefix', async () => {
    await page.goto(bridge.url);
    // The first render waits for Chromium and the bundle: on a loaded machine that takes seconds.
    await expect
      .poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible(), { timeout: 30_000 })
      .toBe(true);
    // Signing in through the browser comes first; the password form stays below it.
    const card = page.getByRole('main');
    expect(await card.getByRole('button').first().textContent()).toBe('Sign in with your browser');
    await card.getByText('or with your email and password').waitFor();
    // A plain http:// address to another machine needs an explicit confirmation first.
    const submit = page.getByRole('button', { name: 'Sign in', exact: true });
    await page.getByLabel('Server URL').fill('http://pm.example.test:8080');
    await page.getByText('This address is not encrypted.').waitFor();
    expect(await submit.isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Sign in with your browser' }).isDisabled()).toBe(
      true,
    );
    await page.getByLabel('I understand; connect over plain http anyway').check();
    expect(await submit.isEnabled()).toBe(true);

    // The account does not exist yet: signing in fails with the server's one message for it.
    await page.getByLabel('Server URL').fill(server.url);
    expect(await page.getByText('This address is not encrypted.').count()).toBe(0);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await submit.click();
    const refused = page.getByRole('alert');
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/email or password|credentials/i);
    expect(await refused.textContent()).not.toContain(password);

    await page.getByLabel('Create a new account on this server').check();
    await screenshot('sign-in');
    await page.getByRole('button', { name: 'Create account and sign in' }).click();

    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const prefix = await thisMachineKeyPrefix();
    expect(prefix).toMatch(/^mcp_/);
    expect(await page.getByTestId('user-email').textContent()).toBe(email);
    expect(await page.getByTestId('key-prefix').textContent()).toBe(`${prefix}…`);
    expect(await page.getByTestId('proxy-status').textContent()).toBe('Running');
    await expectNoFullKeyOnPage();
  });

  it('configures Cursor with one click, and the file is written (with no server key in it)', async () => {
    const cursor = page.getByTestId('client-cursor');
    expect(await cursor.getByText('Not configured').isVisible()).toBe(true);
    await cursor.getByRole('button', { name: 'Configure Cursor' }).click();
    await cursor.getByText('Configured', { exact: true }).waitFor();

    const written = cursorFileSchema.parse(JSON.parse(cursorFile())).mcpServers['pm-server'];
    const { proxy } = await core.getState();
    expect(written.url).toBe(`http://127.0.0.1:${proxy.port}/mcp`);
    expect(written.headers.Authorization).toMatch(/^Bearer \S{20,}$/);
    expect(cursorFile()).not.toContain(await machineKey());
    expect(cursorFile()).not.toMatch(/mcp_/);
    await screenshot('dashboard');
  });

  it('after an MCP call through the proxy, the Keys page shows when the key was last used', async () => {
    const prefix = await thisMachineKeyPrefix();
    await nav('Keys').click();
    const row = page.getByTestId(`key-${prefix}`);
    await row.waitFor();
    const requestsBefore = (await core.getState()).proxy.requests;

    const tools = await mcpCallThroughProxy();
    expect(tools).toContain('list_providers');
    expect((await core.getState()).proxy.requests).toBeGreaterThan(requestsBefore);
    // (The server writes last_used_at at most once a minute per key, so this is the time of the
    // key's first use in that minute, which may be the app's own status read.)
    const after = await serverKey(prefix);
    expect(after.last_used_at).not.toBeNull();

    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect
      .poll(() => row.getByTestId('last-used').locator('time').getAttribute('datetime'))
      .toBe(after.last_used_at);
    expect(await row.getByTestId('last-used').textContent()).toMatch(/just now|minute/);
    await screenshot('keys');
  });

  it('rotating shows the new key once, with a copy button; the proxy uses it at once', async () => {
    const oldPrefix = await thisMachineKeyPrefix();
    await page.getByRole('button', { name: 'Rotate key' }).click();
    const shown = page.getByTestId('new-key');
    await shown.waitFor();
    const newKey = await shown.inputValue();
    expect(newKey).toBe(await machineKey());
    expect(newKey.startsWith(await thisMachineKeyPrefix())).toBe(true);
    expect(await thisMachineKeyPrefix()).not.toBe(oldPrefix);

    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    await page.getByRole('button', { name: 'Done, hide the key' }).click();
    expect(await shown.count()).toBe(0);
    expect(await page.content()).not.toContain(newKey);

    expect(await mcpCallThroughProxy()).toContain('list_providers');
    await expect
      .poll(async () => (await serverKey(await thisMachineKeyPrefix())).last_used_at)
      .not.toBeNull();
  });

  it('revoking this computer’s key on the Keys page shows it rejected; one click fixes it', async () => {
    const prefix = await thisMachineKeyPrefix();
    const row = page.getByTestId(`key-${prefix}`);
    await row.getByRole('button', { name: `Revoke key e2e-laptop (${prefix})` }).click();
    await row.getByRole('button', { name: 'Revoke now' }).click();
    await row.getByText('Revoked', { exact: true }).waitFor();

    await nav('Overview').click();
    const banner = page.getByTestId('key-rejected-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('no longer works');
    expect(await page.getByTestId('status').textContent()).toMatch(/.+/);
    await screenshot('key-rejected');
    // The editor really is cut off.
    await expect(mcpCallThroughProxy()).rejects.toThrow();

    await banner.getByRole('button', { name: 'Get a new key' }).click();
    await banner.waitFor({ state: 'detached' });
    const replaced = await thisMachineKeyPrefix();
    expect(replaced).not.toBe(prefix);
    expect(await page.getByTestId('key-prefix').textContent()).toBe(`${replaced}…`);
    expect(await mcpCallThroughProxy()).toContain('list_providers');
  });

  it('a key revoked from another session shows up in the open window, and is fixed in one click', async () => {
    const prefix = await thisMachineKeyPrefix();
    const key = await serverKey(prefix);
    const login = await request<{ access_token: string }>(server.url, 'POST', '/api/auth/login', {
      body: { email, password },
    });
    const revoked = await request(server.url, 'DELETE', `/api/users/me/mcp-keys/${key.id}`, {
      headers: { authorization: `Bearer ${login.body.access_token}` },
    });
    expect(revoked.status).toBe(204);

    // Cursor's next request is refused; the app learns it from the proxy and pushes the new state.
    await expect(mcpCallThroughProxy()).rejects.toThrow();
    const banner = page.getByTestId('key-rejected-banner');
    await banner.waitFor();
    await banner.getByRole('button', { name: 'Get a new key' }).click();
    await banner.waitFor({ state: 'detached' });
    expect(await mcpCallThroughProxy()).toContain('list_providers');
  });

  it('adds a fake Jira Cloud; its state is OK', async () => {
    const alice = jira.state.users[0];
    if (!alice) throw new Error('the fake has no users');
    await nav('Project tools').click();
    await page.getByRole('heading', { name: 'Project tools', level: 1 }).waitFor();
    await page.getByLabel('Type').selectOption('jira');
    await page.getByLabel('Name').fill('Acme Jira');
    await page.getByLabel('Site URL').fill(jira.url);
    await page.getByLabel('Atlassian account email').fill(alice.email);
    await page.getByLabel('API token').fill(alice.token);
    await page.getByRole('button', { name: 'Check and add' }).click();

    const row = page.getByTestId('provider-Acme Jira');
    await row.getByText('Working', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Test Acme Jira' }).click();
    await row.getByText(/^Works: /).waitFor();
    expect(await page.getByLabel('API token').inputValue()).toBe('');
    expect(await page.content()).not.toContain(alice.token);
    await screenshot('providers');

    await nav('Overview').click();
    const providers = page.getByRole('list', { name: 'Project tools' });
    await providers.getByText('Acme Jira').waitFor();
    expect(await providers.getByText('Working', { exact: true }).isVisible()).toBe(true);
  });

  it('a bad token shows the provider’s reason, and nothing is added', async () => {
    const alice = jira.state.users[0];
    if (!alice) throw new Error('the fake has no users');
    const badToken = `bad-${randomBytes(6).toString('hex')}`;
    await nav('Project tools').click();
    await page.getByLabel('Name').fill('Broken Jira');
    await page.getByLabel('Site URL').fill(jira.url);
    await page.getByLabel('Atlassian account email').fill(alice.email);
    await page.getByLabel('API token').fill(badToken);
    await page.getByRole('button', { name: 'Check and add' }).click();

    const alert = page.locator('form').getByRole('alert');
    await alert.waitFor();
    const reason = (await alert.textContent()) ?? '';
    expect(reason).toMatch(/Jira Cloud/i);
    expect(reason).not.toContain(badToken);
    expect(await page.getByTestId('provider-Broken Jira').count()).toBe(0);
    expect((await core.listProviders()).map((provider) => provider.name)).toEqual(['Acme Jira']);
    await page.getByLabel('API token').fill('');
    await screenshot('provider-rejected');
  });

  it("the Keys page shows each key's limits and edits them; the server enforces them at once", async () => {
    const prefix = await thisMachineKeyPrefix();
    const connectionId = (await core.listProviders())[0]?.id ?? '';
    await nav('Keys').click();
    const row = page.getByTestId(`key-${prefix}`);
    await row.waitFor();
    expect(await row.getByTestId('limits').textContent()).toBe('None');

    await limitInWindow(row, /^Edit limits of key /, ['search_issues', 'get_issue'], () =>
      screenshot('key-limits-editor'),
    );
    await screenshot('key-limits');
    const editor = page.getByTestId('limits-editor');
    const stored = (await serverKey(prefix)) as unknown as {
      allowed_tools: string[] | null;
      allowed_projects: string[] | null;
    };
    expect(stored.allowed_tools).toEqual(['search_issues', 'get_issue']);
    expect(stored.allowed_projects).toEqual([connectionId]);
    // The next request through the proxy already has them.
    expect((await mcpCallThroughProxy()).sort()).toEqual(['get_issue', 'search_issues']);

    // Lifted again: untick everything.
    await row.getByRole('button', { name: /^Edit limits of key / }).click();
    await editor.getByRole('checkbox', { name: 'search_issues' }).uncheck();
    await editor.getByRole('checkbox', { name: 'get_issue' }).uncheck();
    await editor.getByRole('checkbox', { name: 'Acme Jira (all projects)' }).uncheck();
    await editor.getByRole('button', { name: 'Save limits' }).click();
    await editor.waitFor({ state: 'detached' });
    await row.getByTestId('limits').getByText('None').waitFor();
    expect(await mcpCallThroughProxy()).toContain('create_issue');
  });

  it('an editor signed in with OAuth is listed on the Keys page with its access and last use; its limits are edited as a key’s; Revoke ends it', async () => {
    // A real OAuth sign-in: registration, the server's login and consent pages, the code exchange.
    const context = await browser.newContext();
    const editor = await authorizeInBrowser({
      serverUrl: server.url,
      context,
      callback,
      signIn: { email, password },
      clientName: 'Window test editor',
      scope: 'pm:read pm:write',
    });
    await context.close();
    const mcp = () =>
      request(server.url, 'POST', '/mcp', {
        body: { jsonrpc: '2.0', id: 1, method: 'ping' },
        headers: {
          Authorization: `Bearer ${editor.access_token}`,
          Accept: 'application/json, text/event-stream',
        },
      });
    expect((await mcp()).status).toBe(200);

    await nav('Keys').click();
    await page.getByRole('button', { name: 'Refresh' }).click();
    const row = page.getByTestId('grant-Window test editor');
    await row.waitFor();
    expect(await row.getByText('Read and write').isVisible()).toBe(true);
    expect(await row.getByText('pm:read pm:write').isVisible()).toBe(true);
    expect(await row.getByTestId('grant-last-used').textContent()).toMatch(/just now|minute/);
    expect(await page.content()).not.toContain(editor.access_token);
    await screenshot('keys-grants');

    // Its limits, with the same editor as a key's; the server has them and the editor's very
    // access token sees only those tools at its next request.
    const toolsOfEditor = async () => {
      const client = new Client({ name: 'oauth-editor-stand-in', version: '1.0.0' });
      try {
        await client.connect(
          new StreamableHTTPClientTransport(new URL('/mcp', server.url), {
            requestInit: { headers: { Authorization: `Bearer ${editor.access_token}` } },
          }),
        );
        return (await client.listTools()).tools.map((tool) => tool.name).sort();
      } finally {
        await client.close().catch(() => undefined);
      }
    };
    expect(await toolsOfEditor()).toContain('create_issue');
    const connectionId = (await core.listProviders())[0]?.id ?? '';
    expect(await row.getByTestId('limits').textContent()).toBe('None');
    await limitInWindow(
      row,
      'Edit limits of Window test editor',
      ['list_providers', 'get_issue'],
      async () => {
        expect(
          await page.getByRole('group', { name: 'Tools this editor may use' }).isVisible(),
        ).toBe(true);
        expect((await serverGrant('Window test editor')).allowed_tools).toBeNull();
        await screenshot('grant-limits-editor');
      },
    );
    await screenshot('grant-limits');
    expect(await serverGrant('Window test editor')).toEqual(
      expect.objectContaining({
        allowed_tools: ['list_providers', 'get_issue'],
        allowed_projects: [connectionId],
      }),
    );
    expect(await toolsOfEditor()).toEqual(['get_issue', 'list_providers']);

    await row.getByRole('button', { name: 'Revoke Window test editor' }).click();
    await row.getByRole('button', { name: 'Revoke now' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByText('No editor has signed in with OAuth.').waitFor();
    expect(await core.listGrants()).toEqual([]);
    expect((await mcp()).status).toBe(401);
  });

  it('settings show the server and save a new proxy port (Cursor follows) and start at login', async () => {
    await nav('Settings').click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByText(server.url, { exact: true }).waitFor();
    const port = page.getByLabel('Local connection port');
    expect(await port.inputValue()).toBe(String((await core.getSettings()).proxyPort));

    await port.fill('80');
    await page.getByText('Choose a port between 1024 and 65535.').waitFor();
    expect(await page.getByRole('button', { name: 'Save', exact: true }).isDisabled()).toBe(true);

    const newPort = await freePort();
    await port.fill(String(newPort));
    await page.getByLabel('Start PM MCP when I log in').check();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Saved.').waitFor();
    expect(await core.getSettings()).toMatchObject({ proxyPort: newPort, startAtLogin: true });
    // The configured editor was moved to the new port and still reaches the server.
    const entry = cursorFileSchema.parse(JSON.parse(cursorFile())).mcpServers['pm-server'];
    expect(entry.url).toBe(`http://127.0.0.1:${newPort}/mcp`);
    expect(await mcpCallThroughProxy()).toContain('list_providers');
    await screenshot('settings');
  });

  it('every screen is reachable by keyboard and works in dark mode', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await nav('Overview').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    // Focus moved to the screen's heading, so a screen reader announces where the user is.
    expect(await page.locator(':focus').textContent()).toBe('Overview');
    await screenshot('dashboard-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('signing in with Cursor installed and no entry configures it by itself; Undo puts the file back', async () => {
    // Claude Desktop "installed" too: installed editors are listed first.
    mkdirSync(path.join(home, '.config', 'Claude'), { recursive: true });
    await nav('Overview').click();
    const cursor = page.getByTestId('client-cursor');
    await cursor.getByRole('button', { name: 'Remove PM MCP from Cursor' }).click();
    await cursor.getByText('Not configured').waitFor();
    const withoutUs = readFileSync(path.join(home, '.cursor', 'mcp.json'));

    await nav('Settings').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Server URL').fill(server.url);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    const banner = page.getByTestId('auto-configured-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toContain(path.join(home, '.cursor', 'mcp.json'));
    const entry = cursorFileSchema.parse(JSON.parse(cursorFile())).mcpServers['pm-server'];
    expect(entry.url).toBe(`http://127.0.0.1:${(await core.getSettings()).proxyPort}/mcp`);
    expect(await mcpCallThroughProxy()).toContain('list_providers');
    await cursor.getByText('Configured', { exact: true }).waitFor();

    const rows = page.getByRole('list', { name: 'Editors' }).getByRole('listitem');
    const order: { id: string | null; installed: boolean }[] = [];
    for (const row of await rows.all()) {
      order.push({
        id: await row.getAttribute('data-testid'),
        installed: (await row.getByTestId('not-installed').count()) === 0,
      });
    }
    expect(order.slice(0, 2)).toEqual([
      { id: 'client-cursor', installed: true },
      { id: 'client-claude-desktop', installed: true },
    ]);
    expect(order.slice(2).every((row) => !row.installed)).toBe(true);
    await screenshot('auto-configured');

    await banner.getByRole('button', { name: 'Undo the automatic Cursor configuration' }).click();
    await banner.waitFor({ state: 'detached' });
    await cursor.getByText('Not configured').waitFor();
    expect(readFileSync(path.join(home, '.cursor', 'mcp.json')).equals(withoutUs)).toBe(true);
    expect(await core.getSettings()).toMatchObject({ autoConfigureCursor: false });
    await nav('Settings').click();
    expect(
      await page
        .getByLabel('Set up Cursor by itself after I sign in (when Cursor is installed)')
        .isChecked(),
    ).toBe(false);
  });

  it('signs in through the browser: the server’s page in the system browser, the window follows', async () => {
    await nav('Settings').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Server URL').fill(server.url);
    const browserButton = page.getByRole('button', { name: 'Sign in with your browser' });

    // The person gives up: Cancel ends the wait.
    let opened: (url: string) => void = () => undefined;
    let nextUrl = new Promise<string>((resolve) => (opened = resolve));
    openInBrowser = (url) => {
      opened(url);
      return Promise.resolve();
    };
    await browserButton.click();
    await nextUrl;
    await page.getByText('Finish signing in in the browser tab that opened.').waitFor();
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('alert').getByText('Browser sign-in cancelled').waitFor();

    // This time they sign in on the server's page, in their own browser.
    nextUrl = new Promise<string>((resolve) => (opened = resolve));
    await browserButton.click();
    const url = await nextUrl;
    await page.getByText('Finish signing in in the browser tab that opened.').waitFor();
    await screenshot('sign-in-browser-waiting');
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(url);
    await signInOnServerPage(tab, { email, password });
    await tab.getByRole('heading', { name: 'Signed in to PM MCP' }).waitFor();
    await context.close();

    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.getByTestId('user-email').textContent()).toBe(email);
    expect(await page.getByTestId('key-prefix').textContent()).toBe(
      `${await thisMachineKeyPrefix()}…`,
    );
    expect(await page.getByTestId('proxy-status').textContent()).toBe('Running');
    await expectNoFullKeyOnPage();
  });

  it('ran with the strict CSP intact: no script, style or connection was blocked, no page error', async () => {
    const csp = await page
      .locator('meta[http-equiv="Content-Security-Policy"]')
      .getAttribute('content');
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-eval|unsafe-inline/);
    expect(pageProblems).toEqual([]);
  });
});
