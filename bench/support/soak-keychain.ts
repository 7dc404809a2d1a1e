import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDesktopError } from '../../main/errors.js';
import { createKeytarSecretStore } from '../../main/keychain/keytar-store.js';

/**
 * The soak's keychain fault, run inside its own `dbus-run-session` (bench/soak.ts starts it so):
 * a private, unlocked gnome-keyring (as scripts/test.sh sets up) that is stopped and started
 * again while the desktop side's keychain store (main/keychain/keytar-store.ts, what the app and
 * `pm-mcp` use) keeps being asked. Prints one JSON line: what the store said at each step.
 */

interface Step {
  step: string;
  ok: boolean;
  /** The error code and message the app would show, when the call failed. */
  reported?: string;
  ms: number;
}

function startDaemon(): ChildProcess {
  const daemon = spawn(
    'gnome-keyring-daemon',
    ['--foreground', '--unlock', '--components=secrets'],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  daemon.stdin.end('pm-mcp-soak');
  return daemon;
}

async function main(): Promise<void> {
  const home = mkdtempSync(path.join(tmpdir(), 'pm-mcp-soak-keyring-'));
  process.env.XDG_DATA_HOME = home;
  const store = createKeytarSecretStore({ service: 'pm-mcp-soak', timeoutMs: 4_000 });
  const steps: Step[] = [];
  const secret = randomBytes(16).toString('hex');
  const attempt = async (step: string, run: () => Promise<unknown>): Promise<boolean> => {
    const started = Date.now();
    try {
      await run();
      steps.push({ step, ok: true, ms: Date.now() - started });
      return true;
    } catch (error) {
      const reported = isDesktopError(error)
        ? `${error.code}: ${error.message}`
        : `unexpected: ${(error as Error).message}`;
      steps.push({ step, ok: false, reported, ms: Date.now() - started });
      return false;
    }
  };
  const waitUntil = async (step: string, run: () => Promise<unknown>): Promise<boolean> => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (await attempt(step, run)) return true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return false;
  };

  let daemon = startDaemon();
  await waitUntil('before: store the local token', () => store.set('soak-entry', secret));
  await attempt('before: read it back', async () => {
    if ((await store.get('soak-entry')) !== secret) throw new Error('read back a different value');
  });
  daemon.kill('SIGTERM');
  await new Promise((resolve) => daemon.once('exit', resolve));
  await attempt('daemon stopped: read', () => store.get('soak-entry'));
  daemon = startDaemon();
  const recovered = await waitUntil('daemon started again: store', () =>
    store.set('soak-entry', secret),
  );
  await attempt('daemon started again: read back', async () => {
    if ((await store.get('soak-entry')) !== secret) throw new Error('read back a different value');
  });
  await store.delete('soak-entry').catch(() => undefined);
  daemon.kill('SIGTERM');
  rmSync(home, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ recovered, steps })}\n`);
}

await main();
