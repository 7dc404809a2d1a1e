import { DesktopError, isDesktopError } from '../errors.js';
import { secretNames, type SecretStore } from '../keychain/secret-store.js';
import type { MachineKey, SettingsStore } from '../state/settings.js';
import { keyRotationDue } from './key-rotation.js';
import type { CreatedServerKey } from './server-api.js';
import { bestEffort, type AccountSession } from './session.js';

export interface RotatedMachineKey {
  key: MachineKey;
  mcpKey: string;
}

/** This machine's MCP key on the server and in the keychain: check, rotate, replace. */
export interface MachineKeyService {
  /** This machine's key from the keychain (`undefined` when not signed in or missing). */
  readMachineKey(): Promise<string | undefined>;
  /** Asks the server whether this machine's key still works. */
  checkMachineKey(): Promise<'ok' | 'rejected' | 'missing'>;
  rotateMachineKey(): Promise<RotatedMachineKey>;
  /** Mints a new key for this machine (the old one was revoked or expired) and drops the old. */
  replaceMachineKey(): Promise<RotatedMachineKey>;
  /** Rotates this machine's key when it is close to expiry; `undefined` when not due. */
  rotateMachineKeyIfDue(): Promise<RotatedMachineKey | undefined>;
}

/** What the settings file keeps of a key the server created (never the key itself). */
export const toMachineKey = (key: CreatedServerKey): MachineKey => ({
  id: key.id,
  name: key.name,
  prefix: key.key_prefix,
  scope: key.scope,
  createdAt: key.created_at,
  expiresAt: key.expires_at,
});

export function createMachineKeyService(options: {
  settings: SettingsStore;
  secrets: SecretStore;
  session: AccountSession;
  /** This machine's name: the name of the key minted for it. */
  hostname: string;
  now: () => Date;
}): MachineKeyService {
  const { settings, secrets, session, hostname, now } = options;

  /** Keychain first, then the settings file: watchers of the file then find the new key. */
  async function storeMachineKey(
    serverUrl: string,
    created: CreatedServerKey,
  ): Promise<MachineKey> {
    await secrets.set(secretNames.mcpKey(serverUrl), created.api_key);
    const machineKey = toMachineKey(created);
    await settings.update((current) => ({ ...current, machineKey }));
    return machineKey;
  }

  /**
   * With the session the server gives the new key a fresh lifetime; the key rotating itself
   * (no session left) gets a new secret with the same expiry.
   */
  async function rotateMachineKey(
    options: { keyMayRotateItself: boolean } = { keyMayRotateItself: true },
  ): Promise<RotatedMachineKey> {
    const ctx = await session.requireSignedIn();
    const known = ctx.settings.machineKey;
    if (known === null) {
      throw new DesktopError('not_found', 'This machine has no MCP key to rotate; mint one first');
    }
    const serverUrl = ctx.settings.serverUrl;
    const apiKey = await secrets.get(secretNames.mcpKey(serverUrl));
    let created: CreatedServerKey;
    try {
      created = await session.withSession(ctx, (auth) => ctx.api.rotateKey(auth, known.id));
    } catch (error) {
      // Without a session the key may still rotate itself (keeping its expiry).
      if (!(
        options.keyMayRotateItself &&
        isDesktopError(error) &&
        error.code === 'not_signed_in' &&
        apiKey !== undefined
      )) {
        throw error;
      }
      created = await ctx.api.rotateKey({ kind: 'key', apiKey }, known.id);
    }
    const key = await storeMachineKey(serverUrl, created);
    return { key, mcpKey: created.api_key };
  }

  async function replaceMachineKey(): Promise<RotatedMachineKey> {
    const ctx = await session.requireSignedIn();
    const old = ctx.settings.machineKey;
    const created = await session.withSession(ctx, (auth) =>
      ctx.api.createKey(auth, { name: hostname }),
    );
    const key = await storeMachineKey(ctx.settings.serverUrl, created);
    if (old !== null) {
      await bestEffort(() => session.withSession(ctx, (auth) => ctx.api.revokeKey(auth, old.id)));
    }
    return { key, mcpKey: created.api_key };
  }

  return {
    async readMachineKey() {
      const current = await settings.load();
      if (current.serverUrl === null || current.account === null) return undefined;
      return secrets.get(secretNames.mcpKey(current.serverUrl));
    },

    async checkMachineKey() {
      const ctx = await session.requireSignedIn();
      const apiKey = await secrets.get(secretNames.mcpKey(ctx.settings.serverUrl));
      if (apiKey === undefined) return 'missing';
      try {
        await ctx.api.me({ kind: 'key', apiKey });
        return 'ok';
      } catch (error) {
        if (isDesktopError(error) && error.code === 'key_rejected') return 'rejected';
        throw error;
      }
    },

    rotateMachineKey: () => rotateMachineKey(),
    replaceMachineKey,

    async rotateMachineKeyIfDue() {
      const ctx = await session.requireSignedIn();
      const known = ctx.settings.machineKey;
      if (known === null || !keyRotationDue(known, now())) return undefined;
      try {
        // Only the session extends a key: a self-rotation would keep the same expiry and be due
        // again at once, so without a session nothing is done (signing in again extends it).
        return await rotateMachineKey({ keyMayRotateItself: false });
      } catch (error) {
        if (isDesktopError(error) && error.code === 'not_signed_in') return undefined;
        // An expired key cannot rotate itself: a fresh one takes its place.
        if (
          isDesktopError(error) &&
          (error.code === 'key_rejected' || error.code === 'request_refused')
        ) {
          return replaceMachineKey();
        }
        throw error;
      }
    },
  };
}
