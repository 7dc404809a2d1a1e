import { watch, type FSWatcher } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { SettingsFile } from '../state/settings.js';
import { noteKeychain, type CoreMemory, type CoreSettings } from './core-memory.js';
import type { LocalTokenKeeper } from './local-token.js';

/**
 * Another process (the CLI, the tray app) shares the config folder and may sign in, rotate the
 * key or the local token, or sign out: watch `settings.json` and bring the in-memory secrets and
 * the proxy in line with it.
 */
export interface SettingsFollower {
  /** This process changed the settings itself (sign-in, rotation): not another process's change. */
  noteOwn(s: SettingsFile): void;
  /** Re-reads the settings and follows what changed. */
  reload(): Promise<void>;
  watch(): void;
  stop(): void;
}

/** What the in-memory secrets and the proxy were last brought in line with. */
interface Applied {
  serverUrl: string | null;
  userId: string | undefined;
  keyId: string | undefined;
  proxyPort: number;
  localTokenChangedAt: string | null;
}

const appliedFrom = (s: SettingsFile): Applied => ({
  serverUrl: s.serverUrl,
  userId: s.account?.userId,
  keyId: s.machineKey?.id,
  proxyPort: s.proxyPort,
  localTokenChangedAt: s.localTokenChangedAt,
});

export function createSettingsFollower(options: {
  configDir: string;
  enabled: boolean;
  memory: CoreMemory;
  settings: CoreSettings;
  localToken: LocalTokenKeeper;
  /** Reads this machine's key from the keychain into memory. */
  loadMcpKey: (s: SettingsFile) => Promise<void>;
  syncProxy: (s: SettingsFile) => Promise<void>;
  emit: () => Promise<unknown>;
}): SettingsFollower {
  const { memory, settings } = options;
  let applied: Applied | undefined;
  let watcher: FSWatcher | undefined;
  let reloadTimer: NodeJS.Timeout | undefined;

  async function reload(): Promise<void> {
    let s: SettingsFile;
    try {
      s = await settings.load();
    } catch {
      return; // a half-written or corrupt file: the next change or refresh reports it
    }
    const previous = applied;
    const current = appliedFrom(s);
    if (previous && isDeepStrictEqual(previous, current)) return;
    applied = current;
    if (previous?.keyId !== current.keyId) memory.keyRejected = false;
    await noteKeychain(memory, async () => {
      await options.loadMcpKey(s);
      if (previous?.localTokenChangedAt !== current.localTokenChangedAt) {
        await options.localToken.reread();
      }
    });
    await options.syncProxy(s);
    await options.emit();
  }

  return {
    noteOwn(s) {
      applied = appliedFrom(s);
    },
    reload,
    watch() {
      if (!options.enabled || watcher) return;
      try {
        watcher = watch(options.configDir, { persistent: false }, (_event, file) => {
          if (file !== null && file !== 'settings.json') return;
          if (reloadTimer) clearTimeout(reloadTimer);
          reloadTimer = setTimeout(() => {
            void reload();
          }, 50);
          reloadTimer.unref();
        });
        watcher.on('error', () => undefined);
      } catch {
        watcher = undefined; // periodic maintenance still catches up
      }
    },
    stop() {
      if (reloadTimer) clearTimeout(reloadTimer);
      watcher?.close();
      watcher = undefined;
    },
  };
}
