/**
 * The real tray app (Electron itself, driven by Playwright's `_electron`): compiled main process,
 * bundled preload, built window, real keychain, against the real server. It runs where Electron's
 * binary is installed; where it is not (its download is blocked on this kind of machine), it is
 * reported as skipped with the reason: the one sanctioned skip in the suite.
 *
 * Needs a display on Linux (CI runs it under xvfb) and, for the keychain, the D-Bus session that
 * `npm test` provides.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { _electron, type ElectronApplication } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeytarSecretStore } from '../../main/keychain/keytar-store.js';
import { secretNames } from '../../main/keychain/secret-store.js';
import { startTestServer, type TestServer } from '../support/server.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');

/** `require('electron')` from Node returns the binary's path, or throws when it was never installed. */
function findElectron(): { binary: string } | { reason: string } {
  let binary: unknown;
  try {
    binary = createRequire(import.meta.url)('electron');
  } catch (error) {
    return {
      reason: `require('electron') failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    };
  }
  if (typeof binary !== 'string' || !existsSync(binary)) {
    return { reason: `no Electron binary at ${String(binary)}` };
  }
  return { binary };
}

const electron = findElectron();
const electronInstalled = 'binary' in electron;
if (!electronInstalled) {
  console.info(
    `[electron-app] skipped: Electron binary not installed on this machine (${electron.reason}). ` +
      'The window is still tested end to end in Chromium (tests/e2e/window.test.ts).',
  );
}

let app: ElectronApplication | undefined;
let server: TestServer | undefined;
let home: string | undefined;
const keychainServiceName = `pm-mcp-electron-${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  await app?.close().catch(() => undefined);
  if (server) {
    // The app's entries, under this run's own keychain service.
    const secrets = createKeytarSecretStore({ service: keychainServiceName, timeoutMs: 5_000 });
    for (const name of [
      secretNames.mcpKey(server.url),
      secretNames.refreshToken(server.url),
      secretNames.localProxyToken,
    ]) {
      await secrets.delete(name).catch(() => undefined);
    }
  }
  await server?.stop().catch(() => undefined);
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('the packaged-style Electron app', () => {
  it.skipIf(!electronInstalled)(
    electronInstalled
      ? 'real Electron app: a hardened window signs in through the real preload and IPC'
      : 'real Electron app (skipped: Electron binary not installed on this machine)',
    async () => {
      if (!('binary' in electron)) return;
      // The main process runs compiled (dist/), with the preload bundle and the window from
      // `vite build` (npm test runs it; the tsc build is done here).
      const built = spawnSync(
        process.execPath,
        [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
        { cwd: repoRoot, encoding: 'utf8' },
      );
      expect(built.status, built.stdout + built.stderr).toBe(0);
      expect(existsSync(path.join(repoRoot, 'dist/preload/index.cjs'))).toBe(true);
      expect(existsSync(path.join(repoRoot, 'renderer/dist/index.html'))).toBe(true);

      server = await startTestServer();
      home = mkdtempSync(path.join(tmpdir(), 'pm-mcp-electron-'));
      const email = `electron-${randomBytes(4).toString('hex')}@example.test`;
      const password = randomBytes(15).toString('base64url');
      app = await _electron.launch({
        executablePath: electron.binary,
        args: [repoRoot, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
        cwd: repoRoot,
        env: {
          ...process.env,
          HOME: home,
          XDG_CONFIG_HOME: path.join(home, '.config'),
          PM_MCP_HOME: path.join(home, 'pm-mcp'),
          PM_MCP_SERVER_URL: server.url,
          PM_MCP_KEYCHAIN_SERVICE: keychainServiceName,
        },
        timeout: 60_000,
      });
      const window = await app.firstWindow();

      // No Node in the window, only the contract on window.pmMcp (the webPreferences themselves
      // are checked in tests/electron/shell.test.ts).
      expect(await window.evaluate('typeof require')).toBe('undefined');
      expect(await window.evaluate('typeof process')).toBe('undefined');
      expect(await window.evaluate('Object.keys(window.pmMcp).length')).toBe(16);

      // Sign in through the real preload → ipcMain → core → server.
      await window.getByRole('heading', { name: 'Sign in' }).waitFor();
      expect(await window.getByLabel('Server URL').inputValue()).toBe(server.url);
      await window.getByLabel('Email').fill(email);
      await window.getByLabel('Password').fill(password);
      await window.getByLabel('Create a new account on this server').check();
      await window.getByRole('button', { name: 'Create account and sign in' }).click();
      await window.getByRole('heading', { name: 'Overview' }).waitFor();
      expect(await window.getByTestId('user-email').textContent()).toBe(email);
      expect(await window.getByTestId('key-prefix').textContent()).toMatch(/^mcp_.+…$/);

      // Navigation away from the app is refused.
      const before = window.url();
      await window.evaluate("location.href = 'https://example.com/'");
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(window.url()).toBe(before);

      // The same executable is the pm-mcp command (how the packaged app runs Claude Desktop's
      // bridge): beside the running tray app, it sees the same account in the same keychain.
      const status = spawnSync(
        electron.binary,
        [
          repoRoot,
          ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
          '--pm-mcp-cli',
          'status',
          '--json',
        ],
        {
          cwd: repoRoot,
          encoding: 'utf8',
          timeout: 60_000,
          env: {
            ...process.env,
            HOME: home,
            XDG_CONFIG_HOME: path.join(home, '.config'),
            PM_MCP_HOME: path.join(home, 'pm-mcp'),
            PM_MCP_KEYCHAIN_SERVICE: keychainServiceName,
          },
        },
      );
      expect(status.status, status.stderr).toBe(0);
      expect(status.stdout).toContain(email);
    },
    120_000,
  );
});
