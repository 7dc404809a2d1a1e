import { secretNames, type SecretStore } from '../keychain/secret-store.js';
import type { CoreMemory, CoreSettings } from './core-memory.js';

/**
 * The per-install token editors present to the loopback proxy (not the MCP key): created on
 * first use, kept in the keychain and, for the proxy's synchronous getter, in `memory.localToken`.
 */
export interface LocalTokenKeeper {
  /** The token, read from the keychain once or created there. */
  ensure(): Promise<string>;
  /**
   * Replaces it: this process's proxy checks the new one at once, and `localTokenChangedAt` in
   * the settings tells other processes (a proxy run by the tray app or `pm-mcp proxy`) to re-read it.
   */
  rotate(): Promise<void>;
  /** Another process rotated it: read the keychain again (keeping ours if the entry is gone). */
  reread(): Promise<void>;
}

export function createLocalTokenKeeper(options: {
  memory: CoreMemory;
  secrets: SecretStore;
  settings: CoreSettings;
  generate: () => string;
  now: () => Date;
}): LocalTokenKeeper {
  const { memory, secrets, settings, generate, now } = options;
  return {
    async ensure() {
      if (memory.localToken !== undefined) return memory.localToken;
      const stored = await secrets.get(secretNames.localProxyToken);
      if (stored !== undefined) {
        memory.localToken = stored;
        return stored;
      }
      const created = generate();
      await secrets.set(secretNames.localProxyToken, created);
      memory.localToken = created;
      return created;
    },
    async rotate() {
      const created = generate();
      await secrets.set(secretNames.localProxyToken, created);
      memory.localToken = created;
      await settings.update((current) => ({
        ...current,
        localTokenChangedAt: now().toISOString(),
      }));
    },
    async reread() {
      memory.localToken = (await secrets.get(secretNames.localProxyToken)) ?? memory.localToken;
    },
  };
}
