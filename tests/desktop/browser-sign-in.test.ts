/**
 * `pm-mcp login --web` end to end (RFC 8252, SPEC §3.10): the real CLI program, in-process so that
 * its `openUrl` can be headless Chromium playing the system browser; the real server with OAuth
 * on and single sign-on through an identity provider run in-process; the real keychain (keytar,
 * as the other CLI tests); `pm-mcp status` afterwards as a child process reading what was stored.
 */
import { PassThrough, Readable } from 'node:stream';
import keytar from 'keytar';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runCli } from '../../main/cli/program.js';
import { createSystemBrowserOpener } from '../../main/cli/system-browser.js';
import { createDesktopCore, type DesktopCore } from '../../main/core/desktop-core.js';
import { desktopErrorCatalogue } from '../../main/errors.js';
import { createKeytarSecretStore } from '../../main/keychain/keytar-store.js';
import { registerAccount, request, type TestAccount } from '../support/http.js';
import {
  authorizeInBrowser,
  launchChromium,
  pkcePair,
  signInOnServerPage,
  startCallbackReceiver,
  type CallbackReceiver,
} from '../support/oauth.js';
import {
  signInAtIdentityProvider,
  startServerWithIdentityProvider,
  type TestIdentityProvider,
} from '../support/oidc-idp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { cleanupsAfterEach, sandboxUntilCleanup, type CliSandbox } from './cli-harness.js';

let server: TestServer;
let idp: TestIdentityProvider;
let browser: Browser;
let callback: CallbackReceiver;

beforeAll(async () => {
  ({ server, idp } = await startServerWithIdentityProvider());
  browser = await launchChromium();
  callback = await startCallbackReceiver();
}, 120_000);

afterAll(async () => {
  await browser.close();
  await callback.close();
  await server.stop();
  await idp.stop();
});

const cleanups = cleanupsAfterEach();
const sandbox = (): CliSandbox => sandboxUntilCleanup(cleanups);

/**
 * The system browser: each URL opened in a fresh Chromium context, where `act` plays the person
 * (the page is already at the URL). Like a real browser, opening returns at once.
 */
function systemBrowser(act: (page: Page) => Promise<void>, rewrite = (url: string) => url) {
  const opened: string[] = [];
  let driven: Promise<void> = Promise.resolve();
  let page: Page | undefined;
  return {
    opened,
    openUrl: async (url: string): Promise<void> => {
      opened.push(url);
      const context = await browser.newContext();
      cleanups.push(() => context.close());
      const tab = await context.newPage();
      page = tab;
      driven = tab.goto(rewrite(url)).then(() => act(tab));
      driven.catch(() => undefined);
    },
    /** What the person saw last, once they are done. */
    async lastPage(): Promise<Page> {
      await driven;
      if (!page) throw new Error('the browser was never opened');
      return page;
    },
    /** The loopback redirect URI the app listened on. */
    redirectUri(): string {
      const first = opened[0];
      if (!first) throw new Error('the browser was never opened');
      return new URL(first).searchParams.get('redirect_uri') ?? '';
    },
  };
}

/** `pm-mcp <args>` in this process, with the sandbox's config folder and keychain. */
async function pmMcp(
  cli: CliSandbox,
  args: string[],
  openUrl: (url: string) => Promise<void>,
  options: { browserSignInTimeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const cores: DesktopCore[] = [];
  const code = await runCli(args, {
    io: { stdin: Readable.from([]), stdout, stderr },
    cwd: cli.home,
    createCore() {
      const core = createDesktopCore({
        configDir: cli.configDir,
        secretStore: createKeytarSecretStore({ service: cli.keychainService }),
        clientEnvironment: { homeDir: cli.home, platform: 'linux', env: {} },
        hostname: 'web-login-laptop',
        openUrl,
        watchSettings: false,
        ...options,
      });
      cores.push(core);
      return core;
    },
    runBridge: () => Promise.reject(new Error('not used here')),
    waitForStopSignal: () => new Promise(() => undefined),
  });
  await Promise.all(cores.map((core) => core.stop()));
  return { code, stdout: out, stderr: err };
}

const statusSchema = z.object({
  level: z.string(),
  user: z.object({ email: z.string() }).nullable(),
  key: z.object({ keyPrefix: z.string() }).nullable(),
});

/** What the keychain holds for the server, and what `pm-mcp status` (a new process) says. */
async function expectSignedIn(cli: CliSandbox, email: string): Promise<void> {
  const refreshToken = await keytar.getPassword(cli.keychainService, `${server.url}|refresh-token`);
  expect(refreshToken).toMatch(/^pmr_/);
  const key = await keytar.getPassword(cli.keychainService, `${server.url}|mcp-key`);
  expect(key).toMatch(/^mcp_/);
  const status = statusSchema.parse(JSON.parse((await cli.run(['status', '--json'])).stdout));
  expect(status.user?.email).toBe(email);
  expect(status.level).not.toBe('signed-out');
  expect(key?.startsWith(status.key?.keyPrefix ?? '?')).toBe(true);
  const human = await cli.run(['status']);
  expect(human.stdout).toMatch(new RegExp(`User: +${email.replace(/[.]/g, '\\.')}`));
  // The key works against the server.
  const me = await request(server.url, 'GET', '/api/users/me', {
    headers: { 'x-mcp-api-key': key ?? '' },
  });
  expect(me.status).toBe(200);
}

async function expectNothingStored(cli: CliSandbox): Promise<void> {
  expect(await keytar.getPassword(cli.keychainService, `${server.url}|refresh-token`)).toBeNull();
  expect(await keytar.getPassword(cli.keychainService, `${server.url}|mcp-key`)).toBeNull();
}

/** Nothing listens at the loopback redirect URI any more. */
async function expectListenerClosed(redirectUri: string): Promise<void> {
  await expect(fetch(redirectUri)).rejects.toThrow();
}

describe('pm-mcp login --web', { timeout: 120_000 }, () => {
  it('signs a password account in through the browser: refresh token and machine key in the keychain, status signed in', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    const person = systemBrowser(async (page) => {
      await signInOnServerPage(page, account);
      await page.getByRole('heading', { name: 'Signed in to PM MCP' }).waitFor();
    });

    const result = await pmMcp(cli, ['login', '--web', '--server', server.url], person.openUrl);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Signed in to ${server.url} as ${account.email}.`);
    expect(result.stdout).toMatch(/This machine's MCP key: mcp_\S+… "web-login-laptop"/);

    // What the browser was sent to: the server's authorization endpoint, PKCE S256, a state, the
    // session resource, a loopback redirect on an ephemeral port.
    const authorization = new URL(person.opened[0] ?? '');
    expect(`${authorization.origin}${authorization.pathname}`).toBe(
      `${server.url}/oauth/authorize`,
    );
    expect(Object.fromEntries(authorization.searchParams)).toMatchObject({
      client_id: 'pm-mcp-desktop',
      response_type: 'code',
      code_challenge_method: 'S256',
      resource: `${server.url}/api/auth/browser-session`,
    });
    expect(authorization.searchParams.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(person.redirectUri()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(await (await person.lastPage()).content()).toContain(
      'You can close this tab and return to PM MCP',
    );
    await expectListenerClosed(person.redirectUri());
    await expectSignedIn(cli, account.email);
  });

  it('signs an SSO account in through the identity provider behind the server’s page', async () => {
    const cli = sandbox();
    idp.accounts.set('dora', { email: 'dora@example.test', email_verified: true, name: 'Dora' });
    const person = systemBrowser(async (page) => {
      await signInAtIdentityProvider(page, idp, 'dora');
      await page.getByRole('heading', { name: 'Signed in to PM MCP' }).waitFor();
    });

    const result = await pmMcp(cli, ['login', '--web', '--server', server.url], person.openUrl);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Signed in to ${server.url} as dora@example.test.`);
    await expectSignedIn(cli, 'dora@example.test');
  });

  it('a state that does not match this sign-in is refused at the loopback listener; nothing is stored', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    const forged = (url: string) => {
      const tampered = new URL(url);
      tampered.searchParams.set('state', 'forged-state-of-another-sign-in');
      return tampered.href;
    };
    const person = systemBrowser(async (page) => {
      await signInOnServerPage(page, account);
      await page.getByRole('heading', { name: 'Sign-in did not complete' }).waitFor();
    }, forged);

    const result = await pmMcp(cli, ['login', '--web', '--server', server.url], person.openUrl);
    expect(result.code).toBe(desktopErrorCatalogue.browser_sign_in_failed);
    expect(result.stderr).toMatch(/state mismatch/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await (await person.lastPage()).content()).toContain('state mismatch');
    await expectListenerClosed(person.redirectUri());
    await expectNothingStored(cli);
  });

  it('a person who cancels on the server’s sign-in page gets a clear refusal', async () => {
    const cli = sandbox();
    const person = systemBrowser(async (page) => {
      await page.getByRole('button', { name: 'Cancel' }).click();
      await page.getByRole('heading', { name: 'Sign-in did not complete' }).waitFor();
    });

    const result = await pmMcp(cli, ['login', '--web', '--server', server.url], person.openUrl);
    expect(result.code).toBe(desktopErrorCatalogue.browser_sign_in_failed);
    expect(result.stderr).toBe('pm-mcp: Sign-in was cancelled in the browser\n');
    await expectListenerClosed(person.redirectUri());
    await expectNothingStored(cli);
  });

  it('a browser that never comes back times out with a clear error, the listener closed', async () => {
    const cli = sandbox();
    const opened: string[] = [];
    const result = await pmMcp(
      cli,
      ['login', '--web', '--server', server.url],
      (url) => {
        opened.push(url);
        return Promise.resolve();
      },
      { browserSignInTimeoutMs: 1_500 },
    );
    expect(result.code).toBe(desktopErrorCatalogue.browser_sign_in_failed);
    expect(result.stderr).toMatch(/did not come back within 2 seconds: sign-in cancelled/);
    await expectListenerClosed(new URL(opened[0] ?? '').searchParams.get('redirect_uri') ?? '');
    await expectNothingStored(cli);
  });

  it('--web takes no password options; without --web the email is still required', async () => {
    const cli = sandbox();
    const never = () => Promise.reject(new Error('the browser must not open'));
    const mixed = await pmMcp(
      cli,
      ['login', '--web', '--server', server.url, '--email', 'a@b.test'],
      never,
    );
    expect(mixed.code).toBe(desktopErrorCatalogue.usage);
    expect(mixed.stderr).toContain('give no --email');
    const noEmail = await pmMcp(cli, ['login', '--server', server.url], never);
    expect(noEmail.code).toBe(desktopErrorCatalogue.usage);
    expect(noEmail.stderr).toContain("required option '--email <email>' not specified");
  });

  it('another name for the server is refused with the advice to use its public URL', async () => {
    const cli = sandbox();
    const otherName = server.url.replace('127.0.0.1', 'localhost');
    const result = await pmMcp(cli, ['login', '--web', '--server', otherName], () =>
      Promise.reject(new Error('the browser must not open')),
    );
    expect(result.code).toBe(desktopErrorCatalogue.usage);
    expect(result.stderr).toBe(
      `pm-mcp: ${otherName} is known to itself by another address (its PM_MCP_PUBLIC_URL): ` +
        'sign in with that address as the server URL\n',
    );
  });

  it('a server without OAuth says its operator must set PM_MCP_PUBLIC_URL, and that passwords still work', async () => {
    const plain = await startTestServer();
    cleanups.push(() => plain.stop());
    const cli = sandbox();
    const result = await pmMcp(cli, ['login', '--web', '--server', plain.url], () =>
      Promise.reject(new Error('the browser must not open')),
    );
    expect(result.code).toBe(desktopErrorCatalogue.unsupported);
    expect(result.stderr).toContain(`${plain.url} does not offer browser sign-in`);
    expect(result.stderr).toContain('PM_MCP_PUBLIC_URL');
    expect(result.stderr).toContain('Password sign-in still works');
  });
});

describe('a server with passwords turned off', { timeout: 120_000 }, () => {
  it('refuses pm-mcp login with a password, saying to use the browser; login --web signs in', async () => {
    const closed = await startServerWithIdentityProvider({ PM_MCP_PASSWORD_LOGIN: 'false' });
    cleanups.push(
      () => closed.idp.stop(),
      () => closed.server.stop(),
    );
    const cli = sandbox();
    const refused = await cli.run(
      ['login', '--server', closed.server.url, '--email', 'erin@example.test', '--password-stdin'],
      { input: 'a password\n' },
    );
    expect(refused.code).toBe(desktopErrorCatalogue.password_login_disabled);
    expect(refused.stderr).toBe(
      `pm-mcp: ${closed.server.url} has turned passwords off: sign in through your browser ` +
        '(pm-mcp login --web, or "Sign in with your browser" in the app)\n',
    );

    closed.idp.accounts.set('erin', { email: 'erin@example.test', email_verified: true });
    const person = systemBrowser(async (page) => {
      expect(await page.getByLabel('Password').count()).toBe(0);
      await signInAtIdentityProvider(page, closed.idp, 'erin');
      await page.getByRole('heading', { name: 'Signed in to PM MCP' }).waitFor();
    });
    const result = await pmMcp(
      cli,
      ['login', '--web', '--server', closed.server.url],
      person.openUrl,
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`Signed in to ${closed.server.url} as erin@example.test.`);
    await person.lastPage();
  });
});

describe('the command line’s system browser', () => {
  it('prints the URL first and does not fail where no opener exists', async () => {
    const stderr = new PassThrough();
    let printed = '';
    stderr.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    // rundll32 exists only on Windows: here the opener is missing, as on a bare server.
    const openUrl = createSystemBrowserOpener({ platform: 'win32', stderr });
    const url = 'https://pm.example.test/oauth/authorize?client_id=pm-mcp-desktop&state=s';
    await expect(openUrl(url)).resolves.toBeUndefined();
    expect(printed).toContain(`If it does not open, go to:\n  ${url}\n`);
  });
});

describe('the desktop core’s browser sign-in', () => {
  function coreWithBrowser(cli: CliSandbox, openUrl: (url: string) => Promise<void>): DesktopCore {
    const core = createDesktopCore({
      configDir: cli.configDir,
      secretStore: createKeytarSecretStore({ service: cli.keychainService }),
      clientEnvironment: { homeDir: cli.home, platform: 'linux', env: {} },
      openUrl,
      watchSettings: false,
    });
    cleanups.push(() => core.stop());
    return core;
  }

  it('cancelling ends the wait at once, with the listener closed', async () => {
    const cli = sandbox();
    let opened: (url: string) => void = () => undefined;
    const openedUrl = new Promise<string>((resolve) => (opened = resolve));
    const core = coreWithBrowser(cli, (url) => {
      opened(url);
      return Promise.resolve();
    });
    const signingIn = core.signInWithBrowser({ serverUrl: server.url });
    const url = await openedUrl;
    await core.cancelBrowserSignIn();
    await expect(signingIn).rejects.toMatchObject({
      code: 'browser_sign_in_failed',
      message: 'Browser sign-in cancelled',
    });
    await expectListenerClosed(new URL(url).searchParams.get('redirect_uri') ?? '');
    await expectNothingStored(cli);
  });

  it('a browser that cannot be opened is a clear error, with the listener closed', async () => {
    const cli = sandbox();
    let redirectUri = '';
    const core = coreWithBrowser(cli, (url) => {
      redirectUri = new URL(url).searchParams.get('redirect_uri') ?? '';
      return Promise.reject(new Error('no handler for http URLs'));
    });
    await expect(core.signInWithBrowser({ serverUrl: server.url })).rejects.toMatchObject({
      code: 'browser_sign_in_failed',
      message: 'The system browser could not be opened; sign in with your password instead',
    });
    await expectListenerClosed(redirectUri);
    await expectNothingStored(cli);
  });
});

describe('POST /api/auth/browser-session', { timeout: 120_000 }, () => {
  /** The desktop client's authorization, done by hand: its two-minute `pm:session` token. */
  async function desktopSessionToken(account: TestAccount): Promise<string> {
    const context = await browser.newContext();
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const { verifier, challenge } = pkcePair();
    const resource = `${server.url}/api/auth/browser-session`;
    const received = callback.next();
    await page.goto(
      `${server.url}/oauth/authorize?${new URLSearchParams({
        client_id: 'pm-mcp-desktop',
        redirect_uri: callback.redirectUrl,
        response_type: 'code',
        scope: 'pm:session',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        resource,
      }).toString()}`,
    );
    await signInOnServerPage(page, account);
    const code = (await received).get('code') ?? '';
    const token = await fetch(new URL('/oauth/token', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: 'pm-mcp-desktop',
        code,
        code_verifier: verifier,
        redirect_uri: callback.redirectUrl,
        resource,
      }),
    });
    expect(token.status).toBe(200);
    const body = (await token.json()) as { access_token: string; scope: string };
    expect(body.scope).toBe('pm:session');
    return body.access_token;
  }

  const exchange = (token: string | null) =>
    request<{ user?: { email: string }; access_token?: string; refresh_token?: string }>(
      server.url,
      'POST',
      '/api/auth/browser-session',
      token === null ? {} : { headers: { Authorization: `Bearer ${token}` } },
    );

  it('answers like /api/auth/login once; the same token again is refused', async () => {
    const account = await registerAccount(server.url);
    const token = await desktopSessionToken(account);
    const first = await exchange(token);
    expect(first.status).toBe(200);
    expect(first.body.user?.email).toBe(account.email);
    expect(first.body).toMatchObject({ token_type: 'Bearer' });
    expect(first.body.refresh_token).toMatch(/^pmr_/);
    const me = await request(server.url, 'GET', '/api/users/me', {
      headers: { Authorization: `Bearer ${first.body.access_token ?? ''}` },
    });
    expect(me.status).toBe(200);

    const again = await exchange(token);
    expect(again.status).toBe(401);
    expect(again.body).toEqual({
      error: 'invalid_token',
      message: 'The sign-in token is invalid, expired or already used',
    });
  });

  it('refuses a token minted for /mcp, a made-up token and none at all', async () => {
    const account = await registerAccount(server.url);
    const context = await browser.newContext();
    cleanups.push(() => context.close());
    const editor = await authorizeInBrowser({
      serverUrl: server.url,
      context,
      callback,
      signIn: account,
      clientName: 'An editor',
      scope: 'pm:read pm:write',
    });
    for (const token of [editor.access_token, 'A'.repeat(43), null]) {
      const refused = await exchange(token);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ error: 'invalid_token' });
    }
    // The editor's token was not consumed by the attempt: /mcp still takes it.
    const mcp = await request(server.url, 'POST', '/mcp', {
      body: { jsonrpc: '2.0', id: 1, method: 'ping' },
      headers: {
        Authorization: `Bearer ${editor.access_token}`,
        Accept: 'application/json, text/event-stream',
      },
    });
    expect(mcp.status).toBe(200);
  });
});
