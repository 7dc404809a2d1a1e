import type {
  AppState,
  BrowserSignInInput,
  KeyInfo,
  RotatedKey,
  SignInInput,
} from '../../preload/contract.js';
import type { AccountService, SignInResult, SignOutResult } from '../account/account-service.js';
import { secretNames, type SecretStore } from '../keychain/secret-store.js';
import type { SettingsFile } from '../state/settings.js';
import { isSignedIn, noteKeychain, type CoreMemory, type CoreSettings } from './core-memory.js';
import {
  browserSignInInputSchema,
  idSchema,
  parseInput,
  signInInputSchema,
} from './input-validation.js';

/**
 * This machine's MCP key as the core holds it: sign-in (kept or minted), rotation (by hand and
 * when due), replacement after the server refused it, revocation, sign-out, and the proxy's
 * 401s. The account service talks to the server and the keychain; this keeps `memory.mcpKey`
 * (what the proxy sends) and the key's health in line with it.
 */
export interface KeyLifecycle {
  /** Reads this machine's key from the keychain into memory (none when signed out). */
  loadMcpKey(s: SettingsFile): Promise<void>;
  /** Rotates the key when it is close to expiry. */
  maintain(): Promise<void>;
  signIn(input: SignInInput): Promise<SettingsFile>;
  signInWithBrowser(input: BrowserSignInInput): Promise<SettingsFile>;
  signOut(): Promise<SignOutResult>;
  revokeKey(id: string): Promise<string>;
  rotateKey(): Promise<RotatedKey>;
  replaceRejectedKey(): Promise<void>;
  /** The proxy saw a 401 from the server. */
  onUpstreamUnauthorized(): Promise<void>;
}

export function createKeyLifecycle(options: {
  memory: CoreMemory;
  settings: CoreSettings;
  secrets: SecretStore;
  account: AccountService;
  /** This process wrote the settings (so the file watcher does not treat it as another's). */
  noteOwnSettings: (s: SettingsFile) => void;
  emit: () => Promise<AppState>;
}): KeyLifecycle {
  const { memory, settings, secrets, account, noteOwnSettings } = options;

  /** Signed in (either way): this machine's key is the one the proxy sends from now on. */
  function adopt(result: SignInResult): SettingsFile {
    memory.settings = result.settings;
    noteOwnSettings(result.settings);
    memory.mcpKey = result.mcpKey;
    memory.keyRejected = false;
    memory.signedOutNote = null;
    memory.keychainProblem = null;
    return result.settings;
  }

  /** A new key is in use: the proxy's next request sends it. */
  async function useNewKey(mcpKey: string): Promise<void> {
    memory.mcpKey = mcpKey;
    memory.keyRejected = false;
    noteOwnSettings(await settings.load());
  }

  return {
    async loadMcpKey(s) {
      memory.mcpKey = isSignedIn(s)
        ? await secrets.get(secretNames.mcpKey(s.serverUrl))
        : undefined;
    },

    async maintain() {
      const s = await settings.load();
      if (!isSignedIn(s)) return;
      const rotated = await account.rotateMachineKeyIfDue();
      if (rotated) await useNewKey(rotated.mcpKey);
    },

    async signIn(input) {
      return adopt(await account.signIn(parseInput(signInInputSchema, input, 'sign-in details')));
    },

    async signInWithBrowser(input) {
      const valid = parseInput(browserSignInInputSchema, input, 'sign-in details');
      return adopt(await account.signInWithBrowser(valid));
    },

    async signOut() {
      const result = await account.signOut();
      memory.mcpKey = undefined;
      memory.keyRejected = false;
      memory.keys = [];
      memory.providers = [];
      memory.signedOutNote = result.warning;
      await settings.load();
      return result;
    },

    async revokeKey(id) {
      const keyId = parseInput(idSchema, id, 'key id');
      await account.revokeKey(keyId);
      const s = await settings.load();
      if (s.machineKey?.id === keyId) memory.keyRejected = true;
      return keyId;
    },

    async rotateKey() {
      // The server gives the new key the old one's limits.
      const oldId = (await settings.load()).machineKey?.id;
      const old = memory.keys.find((listed) => listed.id === oldId);
      const rotated = await account.rotateMachineKey();
      await useNewKey(rotated.mcpKey);
      const key: KeyInfo = {
        id: rotated.key.id,
        name: rotated.key.name,
        keyPrefix: rotated.key.prefix,
        scope: rotated.key.scope,
        isActive: true,
        createdAt: rotated.key.createdAt,
        lastUsedAt: null,
        expiresAt: rotated.key.expiresAt,
        revokedAt: null,
        isThisMachine: true,
        allowedTools: old?.allowed_tools ?? null,
        allowedProjects: old?.allowed_projects ?? null,
      };
      return { key, apiKey: rotated.mcpKey };
    },

    async replaceRejectedKey() {
      const replaced = await account.replaceMachineKey();
      await useNewKey(replaced.mcpKey);
    },

    async onUpstreamUnauthorized() {
      // Another process may have rotated the key: use the keychain's if it changed.
      const s = await settings.load().catch(() => memory.settings);
      const stored =
        s && isSignedIn(s)
          ? await noteKeychain(memory, () => secrets.get(secretNames.mcpKey(s.serverUrl)))
          : undefined;
      if (stored !== undefined && stored !== memory.mcpKey) {
        memory.mcpKey = stored;
        memory.keyRejected = false;
      } else if (memory.keyRejected) {
        return; // already known (an editor retrying must not flood the listeners)
      } else {
        memory.keyRejected = true;
      }
      await options.emit();
    },
  };
}
