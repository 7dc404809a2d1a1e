import { randomBytes } from 'node:crypto';
import { isDesktopError } from '../../main/errors.js';
import { createKeytarSecretStore } from '../../main/keychain/keytar-store.js';
import { startPrivateKeyring } from '../../tests/support/private-keyring.js';

/**
 * The soak's keychain fault, in a process of its own: a private D-Bus session bus and an unlocked
 * gnome-keyring on it (tests/support/private-keyring.ts: no D-Bus activation, so a stopped
 * keyring stays stopped instead of being replaced by a locked one), stopped and started again
 * while the desktop side's keychain store (main/keychain/keytar-store.ts, what the app and
 * `pm-mcp` use) keeps being asked. Prints one JSON line: what the store said at each step.
 */

interface Step {
  step: string;
  ok: boolean;
  /** The error code and message the app would show, when the call failed. */
  reported?: string;
  ms: number;
}

async function main(): Promise<void> {
  const keyring = await startPrivateKeyring();
  process.env.DBUS_SESSION_BUS_ADDRESS = keyring.busAddress;
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

  try {
    await keyring.start();
    await waitUntil('before: store the local token', () => store.set('soak-entry', secret));
    await attempt('before: read it back', async () => {
      if ((await store.get('soak-entry')) !== secret)
        throw new Error('read back a different value');
    });
    await keyring.stop();
    await attempt('daemon stopped: read', () => store.get('soak-entry'));
    await keyring.start();
    const recovered = await waitUntil('daemon started again: store', () =>
      store.set('soak-entry', secret),
    );
    await attempt('daemon started again: read back', async () => {
      if ((await store.get('soak-entry')) !== secret)
        throw new Error('read back a different value');
    });
    await store.delete('soak-entry').catch(() => undefined);
    process.stdout.write(`${JSON.stringify({ recovered, steps })}\n`);
  } finally {
    await keyring.close();
  }
}

await main();
process.exit(0);
