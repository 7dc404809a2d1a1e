import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDesktopCore } from '../../main/core/desktop-core.js';
import { createKeytarSecretStore } from '../../main/keychain/keytar-store.js';
import { waitFor } from '../support/cluster.js';
import { desktopErrorOf } from '../support/desktop-errors.js';
import { startPrivateKeyring, type PrivateKeyring } from '../support/private-keyring.js';

/**
 * The real keytar against a real gnome-keyring that is stopped and started again while the store
 * is in use, as when the desktop session's keyring restarts under the running app. libsecret
 * keeps its connection to the first daemon for the life of a process; the store must say plainly
 * that the keychain is gone while it is, and work again once it is back, without a restart.
 */

let keyring: PrivateKeyring;
const folders: string[] = [];

beforeAll(async () => {
  keyring = await startPrivateKeyring();
  // Before the first keychain call of this process (each test file runs in its own process).
  process.env.DBUS_SESSION_BUS_ADDRESS = keyring.busAddress;
  await keyring.start();
});

afterAll(async () => {
  await keyring.close();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const succeeds = (attempt: () => Promise<unknown>) => async (): Promise<boolean> => {
  try {
    await attempt();
    return true;
  } catch {
    return false;
  }
};

describe('keytar secret store across a Secret Service restart', () => {
  it('reports the keychain unavailable while it is down and recovers on its own', async () => {
    const service = `pm-mcp-test-${randomBytes(6).toString('hex')}`;
    const store = createKeytarSecretStore({ service, timeoutMs: 10_000 });
    const first = randomBytes(16).toString('hex');
    await store.set('entry', first);
    expect(await store.get('entry')).toBe(first);

    await keyring.stop();
    const down = await desktopErrorOf(store.get('entry'));
    expect(down.code).toBe('keychain_unavailable');
    expect(down.message).toMatch(/no Secret Service is running/);
    const downWrite = await desktopErrorOf(store.set('entry', 'not stored'));
    expect(downWrite.code).toBe('keychain_unavailable');

    await keyring.start();
    // The first read after the restart already works: what was stored before is still there.
    expect(await store.get('entry')).toBe(first);
    const second = randomBytes(16).toString('hex');
    await store.set('entry', second);
    expect(await store.get('entry')).toBe(second);

    // Again, now that the calls run in a helper process that holds the second daemon's session.
    await keyring.stop();
    expect((await desktopErrorOf(store.set('entry', 'not stored'))).code).toBe(
      'keychain_unavailable',
    );
    await keyring.start();
    const third = randomBytes(16).toString('hex');
    await waitFor(
      'a write to succeed after the second restart',
      succeeds(() => store.set('entry', third)),
      20_000,
      200,
    );
    expect(await store.get('entry')).toBe(third);
    await store.delete('entry');
    expect(await store.get('entry')).toBeUndefined();
  });

  it("shows the outage in the app's state, and clears it once the keychain is back", async () => {
    const service = `pm-mcp-test-${randomBytes(6).toString('hex')}`;
    const store = createKeytarSecretStore({ service, timeoutMs: 10_000 });
    await store.set('warm-up', 'x'); // the store has a working connection before the outage
    const home = mkdtempSync(path.join(tmpdir(), 'pm-mcp-keyring-core-'));
    folders.push(home);
    const core = createDesktopCore({
      configDir: path.join(home, 'config'),
      secretStore: store,
      clientEnvironment: { homeDir: home, platform: 'linux', env: {} },
      watchSettings: false,
    });
    try {
      await keyring.stop();
      const during = await core.getState();
      expect(during.level).toBe('error');
      expect(during.summary).toMatch(/No OS keychain is available: no Secret Service is running/);

      await keyring.start();
      await waitFor(
        'the state to show the keychain working again',
        async () => (await core.getState()).level === 'signed-out',
        20_000,
        200,
      );
      // The local proxy token the state needed was created in the keychain, not anywhere else.
      expect(await store.get('local-proxy-token')).toMatch(/.{20,}/);
    } finally {
      await core.stop();
      await store.delete('warm-up').catch(() => undefined);
      await store.delete('local-proxy-token').catch(() => undefined);
    }
  });
});
