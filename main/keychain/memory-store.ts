import { DesktopError } from '../errors.js';
import type { SecretStore } from './secret-store.js';

export interface MemorySecretStore extends SecretStore {
  /** A copy of every entry (tests inspect what would have reached the keychain). */
  entries(): Map<string, string>;
  /** Makes every call fail as a missing keychain does (`undefined` makes it available again). */
  setUnavailable(reason: string | undefined): void;
}

/** An in-memory keychain for unit tests. Never used by the app or the CLI. */
export function createMemorySecretStore(initial: Record<string, string> = {}): MemorySecretStore {
  const values = new Map(Object.entries(initial));
  let unavailableReason: string | undefined;

  // Failures arrive as rejected promises, exactly like the real keychain's.
  const call = <T>(operation: () => T): Promise<T> => {
    if (unavailableReason !== undefined) {
      return Promise.reject(new DesktopError('keychain_unavailable', unavailableReason));
    }
    return Promise.resolve(operation());
  };

  return {
    get: (name) => call(() => values.get(name)),
    set: (name, value) =>
      call(() => {
        values.set(name, value);
      }),
    delete: (name) =>
      call(() => {
        values.delete(name);
      }),
    entries: () => new Map(values),
    setUnavailable(reason) {
      unavailableReason = reason;
    },
  };
}
