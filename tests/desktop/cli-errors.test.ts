import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import keytar from 'keytar';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { desktopErrorCatalogue } from '../../main/errors.js';
import { randomPassword, registerAccount, request } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createCliSandbox, filesUnder, type CliResult, type CliSandbox } from './cli-harness.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const sandboxes: CliSandbox[] = [];
afterEach(() => {
  for (const sandbox of sandboxes.splice(0)) sandbox.cleanup();
});
const sandbox = (): CliSandbox => {
  const created = createCliSandbox();
  sandboxes.push(created);
  return created;
};

/** One clear line on stderr: no stack trace, no secret. */
function expectOneLineError(result: CliResult, secrets: string[] = []): void {
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^pm-mcp: /);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  for (const secret of secrets) expect(result.stderr + result.stdout).not.toContain(secret);
}

// Each test starts several real CLI processes (tsx compiles on start): generous on a loaded machine.
describe('pm-mcp errors', { timeout: 120_000 }, () => {
  it('no keychain: login says what is missing, exits keychain_unavailable, stores nothing', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    const result = await cli.run(
      ['login', '--server', server.url, '--email', account.email, '--password-stdin'],
      {
        input: `${account.password}\n`,
        env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${path.join(cli.home, 'no-such-bus')}` },
      },
    );
    expect(result.code).toBe(desktopErrorCatalogue.keychain_unavailable);
    expectOneLineError(result, [account.password]);
    expect(result.stderr).toMatch(/No OS keychain is available: there is no D-Bus session/);
    expect(result.stderr).toMatch(/gnome-keyring/);
    // Nothing stored: no signed-in state on disk, nothing in the keychain, no key on the server.
    const settingsFile = path.join(cli.configDir, 'settings.json');
    if (existsSync(settingsFile))
      expect(readFileSync(settingsFile, 'utf8')).not.toContain(account.email);
    expect(await keytar.findCredentials(cli.keychainService)).toEqual([]);
    const keys = await request<{ keys: unknown[] }>(server.url, 'GET', '/api/users/me/mcp-keys', {
      headers: { authorization: `Bearer ${account.accessToken}` },
    });
    expect(keys.body.keys).toEqual([]);
    for (const file of filesUnder(cli.configDir)) {
      expect(readFileSync(file, 'utf8')).not.toMatch(/mcp_[A-Za-z0-9]{20,}/);
    }
  });

  it('wrong password: the server message and invalid_credentials', async () => {
    const cli = sandbox();
    const account = await registerAccount(server.url);
    const wrong = randomPassword();
    const result = await cli.run(
      ['login', '--server', server.url, '--email', account.email, '--password-stdin'],
      { input: wrong },
    );
    expect(result.code).toBe(desktopErrorCatalogue.invalid_credentials);
    expectOneLineError(result, [wrong]);
    expect(result.stderr.trim()).toBe('pm-mcp: Invalid email or password');
    expect(await keytar.findCredentials(cli.keychainService)).toEqual([]);
  });

  it('server unreachable: names the URL', async () => {
    const cli = sandbox();
    const result = await cli.run(
      ['login', '--server', 'http://127.0.0.1:9', '--email', 'a@example.test', '--password-stdin'],
      { input: 'irrelevant-password' },
    );
    expect(result.code).toBe(desktopErrorCatalogue.server_unreachable);
    expectOneLineError(result);
    expect(result.stderr).toContain('Cannot reach the PM MCP server at http://127.0.0.1:9');
  });

  it('not signed in: says how to sign in', async () => {
    const cli = sandbox();
    for (const args of [
      ['keys', 'list'],
      ['providers', 'list'],
      ['keys', 'rotate'],
    ]) {
      const result = await cli.run(args);
      expect(result.code).toBe(desktopErrorCatalogue.not_signed_in);
      expectOneLineError(result);
      expect(result.stderr).toMatch(/Not signed in: run pm-mcp login --server/);
    }
  });

  it('plain http to another host is refused without --insecure', async () => {
    const cli = sandbox();
    const result = await cli.run(
      [
        'login',
        '--server',
        'http://pm.example.com',
        '--email',
        'a@example.test',
        '--password-stdin',
      ],
      { input: 'irrelevant-password' },
    );
    expect(result.code).toBe(desktopErrorCatalogue.insecure_server_url);
    expectOneLineError(result);
    expect(result.stderr).toMatch(/plain http:\/\/.*--insecure/);

    const confirmed = await cli.run(
      [
        'login',
        '--server',
        'http://pm-mcp.invalid',
        '--email',
        'a@example.test',
        '--password-stdin',
        '--insecure',
      ],
      { input: 'irrelevant-password' },
    );
    // Confirmed, it goes on to try the server (which does not exist).
    expect(confirmed.code).toBe(desktopErrorCatalogue.server_unreachable);
  });

  it('usage errors exit with the usage code and help works everywhere', async () => {
    const cli = sandbox();
    const unknown = await cli.run(['configure', 'notepad']);
    expect(unknown.code).toBe(desktopErrorCatalogue.usage);
    expect(unknown.stderr).toMatch(/choose one of cursor, vscode/);
    const noPassword = await cli.run(['login', '--server', server.url, '--email', 'a@b.test']);
    expect(noPassword.code).toBe(desktopErrorCatalogue.usage);
    expect(noPassword.stderr).toMatch(/--password-stdin/);
    for (const args of [
      ['--help'],
      ['keys', '--help'],
      ['providers', 'add', '--help'],
      ['proxy', '--help'],
    ]) {
      const help = await cli.run(args);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: pm-mcp/);
    }
  });
});
