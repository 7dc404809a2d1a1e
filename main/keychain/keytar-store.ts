import { DesktopError, isDesktopError } from '../errors.js';
import { keychainService, type SecretStore } from './secret-store.js';

/** The part of keytar this store uses (keytar is archived; keep the surface small). */
export interface KeytarApi {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
}

export interface KeytarSecretStoreOptions {
  /** Defaults to `pm-mcp`. */
  service?: string;
  /** Each keychain call fails after this long (a hung D-Bus must not hang the app). */
  timeoutMs?: number;
  /** Loads keytar; replaced in tests. Defaults to `import('keytar')`. */
  loadKeytar?: () => Promise<KeytarApi>;
  platform?: NodeJS.Platform;
}

const defaultTimeoutMs = 15_000;

async function importKeytar(): Promise<KeytarApi> {
  const imported = (await import('keytar')) as KeytarApi & { default?: KeytarApi };
  return imported.default ?? imported;
}

/**
 * The OS keychain through keytar (macOS Keychain, Windows Credential Manager, the Secret Service
 * on Linux). Every failure to reach the keychain becomes `keychain_unavailable` with a message
 * saying what is missing; there is no fallback of any kind.
 */
export function createKeytarSecretStore(options: KeytarSecretStoreOptions = {}): SecretStore {
  const service = options.service ?? keychainService;
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const platform = options.platform ?? process.platform;
  const load = options.loadKeytar ?? importKeytar;
  let keytar: Promise<KeytarApi> | undefined;

  const loadOnce = (): Promise<KeytarApi> => {
    keytar ??= load().catch((error: unknown) => {
      keytar = undefined;
      throw new DesktopError(
        'keychain_unavailable',
        `No OS keychain is available: the keychain library (keytar) could not be loaded (${errorText(error)})` +
          (platform === 'linux' ? '; it needs libsecret-1-0 installed' : ''),
        { cause: error },
      );
    });
    return keytar;
  };

  const call = async <T>(operation: string, run: (api: KeytarApi) => Promise<T>): Promise<T> => {
    const api = await withTimeout(loadOnce(), timeoutMs, operation);
    try {
      return await withTimeout(run(api), timeoutMs, operation);
    } catch (error) {
      if (isDesktopError(error)) throw error;
      throw new DesktopError('keychain_unavailable', explainKeychainFailure(error, platform), {
        cause: error,
      });
    }
  };

  return {
    get: (name) => call('read', async (api) => (await api.getPassword(service, name)) ?? undefined),
    set: (name, value) => call('write', (api) => api.setPassword(service, name, value)),
    delete: (name) =>
      call('delete', async (api) => {
        await api.deletePassword(service, name);
      }),
  };
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, operation: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new DesktopError(
          'keychain_unavailable',
          `The OS keychain did not answer a ${operation} within ${Math.round(timeoutMs / 1000)} s ` +
            '(is the Secret Service or D-Bus hung?); nothing was stored',
        ),
      );
    }, timeoutMs);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Turns libsecret/D-Bus/OS errors into a sentence that says what is missing. */
export function explainKeychainFailure(error: unknown, platform: NodeJS.Platform): string {
  const text = errorText(error);
  if (platform === 'linux') {
    if (
      /autolaunch D-Bus|Could not connect|DBUS_SESSION_BUS_ADDRESS|Connection refused/i.test(text)
    ) {
      return (
        'No OS keychain is available: there is no D-Bus session to reach a Secret Service ' +
        `(${text}). Start a Secret Service such as gnome-keyring inside a D-Bus session, ` +
        "e.g. dbus-run-session -- sh -c 'gnome-keyring-daemon --unlock --components=secrets; pm-mcp …'"
      );
    }
    if (
      /org\.freedesktop\.secrets|ServiceUnknown|not provided by any \.service files/i.test(text)
    ) {
      return (
        'No OS keychain is available: no Secret Service is running on the D-Bus session ' +
        `(${text}). Start gnome-keyring (or another Secret Service such as KeePassXC)`
      );
    }
    if (/locked|prompt|dismissed|cancel/i.test(text)) {
      return (
        `The OS keychain is locked (${text}). Unlock its default collection ` +
        '(log in to the desktop session, or run gnome-keyring-daemon --unlock) and try again'
      );
    }
    if (/no such (object|collection)|collection/i.test(text)) {
      return (
        `The OS keychain has no default collection to store secrets in (${text}). ` +
        'Create one (e.g. open Seahorse / "Passwords and Keys") or restart gnome-keyring'
      );
    }
  }
  return `The OS keychain could not be used (${text}); nothing was stored`;
}
