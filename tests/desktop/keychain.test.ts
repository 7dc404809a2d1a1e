import { randomBytes } from 'node:crypto';
import keytar from 'keytar';
import { describe, expect, it } from 'vitest';
import {
  createKeytarSecretStore,
  explainKeychainFailure,
  type KeytarApi,
} from '../../main/keychain/keytar-store.js';
import { createMemorySecretStore } from '../../main/keychain/memory-store.js';
import { secretNames } from '../../main/keychain/secret-store.js';
import { desktopErrorOf } from '../support/desktop-errors.js';

const uniqueService = (): string => `pm-mcp-test-${randomBytes(6).toString('hex')}`;

describe('keytar secret store against the real Secret Service', () => {
  it('stores, reads back through keytar itself, and deletes a secret', async () => {
    const service = uniqueService();
    const store = createKeytarSecretStore({ service });
    const name = secretNames.mcpKey('http://127.0.0.1:1234');
    const value = `mcp_${randomBytes(32).toString('base64url')}`;

    expect(await store.get(name)).toBeUndefined();
    await store.set(name, value);
    expect(await keytar.getPassword(service, 'http://127.0.0.1:1234|mcp-key')).toBe(value);
    expect(await store.get(name)).toBe(value);
    await store.delete(name);
    expect(await keytar.getPassword(service, 'http://127.0.0.1:1234|mcp-key')).toBeNull();
    await store.delete(name); // deleting twice is not an error
  });
});

describe('keytar secret store when there is no keychain', () => {
  it('says plainly that keytar could not be loaded', async () => {
    const store = createKeytarSecretStore({
      loadKeytar: () =>
        Promise.reject(new Error('libsecret-1.so.0: cannot open shared object file')),
      platform: 'linux',
    });
    const error = await desktopErrorOf(store.set('x', 'y'));
    expect(error.code).toBe('keychain_unavailable');
    expect(error.message).toMatch(/keytar\) could not be loaded.*libsecret/);
  });

  it('gives up on a hung keychain after the timeout', async () => {
    const hung: KeytarApi = {
      getPassword: () => new Promise(() => undefined),
      setPassword: () => new Promise(() => undefined),
      deletePassword: () => new Promise(() => undefined),
    };
    const store = createKeytarSecretStore({
      loadKeytar: () => Promise.resolve(hung),
      timeoutMs: 50,
    });
    const started = Date.now();
    const error = await desktopErrorOf(store.get('x'));
    expect(error.code).toBe('keychain_unavailable');
    expect(error.message).toMatch(/did not answer a read within/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it.each([
    ['Cannot autolaunch D-Bus without X11 $DISPLAY', /no D-Bus session/],
    ['Could not connect: No such file or directory', /no D-Bus session/],
    [
      'The name org.freedesktop.secrets was not provided by any .service files',
      /no Secret Service is running/,
    ],
    ['Cannot create an item in a locked collection', /keychain is locked/],
  ])('explains "%s"', async (libsecretMessage, expected) => {
    const failing: KeytarApi = {
      getPassword: () => Promise.reject(new Error(libsecretMessage)),
      setPassword: () => Promise.reject(new Error(libsecretMessage)),
      deletePassword: () => Promise.reject(new Error(libsecretMessage)),
    };
    const store = createKeytarSecretStore({
      loadKeytar: () => Promise.resolve(failing),
      platform: 'linux',
    });
    const error = await desktopErrorOf(store.set('x', 'secret-value'));
    expect(error.code).toBe('keychain_unavailable');
    expect(error.message).toMatch(expected);
    expect(error.message).not.toContain('secret-value');
    expect(explainKeychainFailure(new Error(libsecretMessage), 'linux')).toMatch(expected);
  });
});

describe('in-memory secret store', () => {
  it('keeps values and fails like a missing keychain when told to', async () => {
    const store = createMemorySecretStore();
    await store.set('a', '1');
    expect(await store.get('a')).toBe('1');
    store.setUnavailable('No OS keychain is available: test');
    const error = await desktopErrorOf(store.set('b', '2'));
    expect(error.code).toBe('keychain_unavailable');
    expect(store.entries().has('b')).toBe(false);
    store.setUnavailable(undefined);
    await store.delete('a');
    expect(await store.get('a')).toBeUndefined();
  });
});
