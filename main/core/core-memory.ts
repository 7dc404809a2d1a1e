import type { ServerKey, ServerProvider } from '../account/server-api.js';
import { isDesktopError } from '../errors.js';
import type { SettingsFile, SettingsStore } from '../state/settings.js';

/**
 * What the core knows now, shared by its parts (the composition in desktop-core.ts builds one):
 * the settings last read, the secrets held in memory after one keychain read (the proxy's getters
 * are synchronous) and what the server last said. Each part changes only the facts it owns.
 */
export interface CoreMemory {
  /** The settings file as last read or written by this process. */
  settings: SettingsFile | undefined;
  /** This machine's MCP key (owned by the key lifecycle and the settings follower). */
  mcpKey: string | undefined;
  /** The local proxy token (owned by local-token.ts). */
  localToken: string | undefined;
  /** The server or the proxy refused this machine's key. */
  keyRejected: boolean;
  serverReachable: boolean;
  /** The last key check against the server succeeded. */
  lastCheckOk: boolean;
  keys: ServerKey[];
  providers: ServerProvider[];
  /** The keychain could not be used, in words for the user. */
  keychainProblem: string | null;
  /** Shown while signed out (e.g. the last sign-out could not revoke the key). */
  signedOutNote: string | null;
}

export function createCoreMemory(): CoreMemory {
  return {
    settings: undefined,
    mcpKey: undefined,
    localToken: undefined,
    keyRejected: false,
    serverReachable: true,
    lastCheckOk: false,
    keys: [],
    providers: [],
    keychainProblem: null,
    signedOutNote: null,
  };
}

export type SignedInSettings = SettingsFile & { serverUrl: string };

export const isSignedIn = (s: SettingsFile): s is SignedInSettings =>
  s.serverUrl !== null && s.account !== null;

/** The settings file, with the last value read kept in `memory.settings`. */
export interface CoreSettings {
  readonly store: SettingsStore;
  /** Reads the file now. */
  load(): Promise<SettingsFile>;
  /** The last value read, or the file when nothing was read yet. */
  cached(): Promise<SettingsFile>;
  /** Reads, changes and writes the file; the result is the new cached value. */
  update(change: (current: SettingsFile) => SettingsFile): Promise<SettingsFile>;
}

export function createCoreSettings(store: SettingsStore, memory: CoreMemory): CoreSettings {
  const load = async (): Promise<SettingsFile> => {
    memory.settings = await store.load();
    return memory.settings;
  };
  return {
    store,
    load,
    cached: async () => memory.settings ?? (await load()),
    async update(change) {
      memory.settings = await store.update(change);
      return memory.settings;
    },
  };
}

/** Runs a keychain read, recording (not throwing) a missing keychain for the state. */
export async function noteKeychain<T>(
  memory: CoreMemory,
  read: () => Promise<T>,
): Promise<T | undefined> {
  try {
    const value = await read();
    memory.keychainProblem = null;
    return value;
  } catch (error) {
    if (isDesktopError(error) && error.code === 'keychain_unavailable') {
      memory.keychainProblem = error.message;
      return undefined;
    }
    throw error;
  }
}
