import type { ClusterEvents } from '../cluster/cluster-events.js';
import { hashApiKey, isWellFormedApiKey } from './key-format.js';
import type { AuthenticatedKey, KeyService } from './keys.js';

/** What the Authenticator needs of keys: a presented key → its owner, or undefined. */
export interface KeyAuthenticator {
  authenticate(candidate: string): Promise<AuthenticatedKey | undefined>;
}

interface Entry {
  readonly key: AuthenticatedKey;
  readonly cachedAt: number;
}

export interface KeyLookupCacheOptions {
  keys: KeyService;
  events: ClusterEvents;
  now?: () => number;
  /** A safety net behind the notifications: no entry is older than this. */
  maxAgeMs?: number;
  maxEntries?: number;
}

/**
 * Successful key lookups, kept in memory (by hash, never by plaintext) so that a request needs no
 * database round trip for its key. Only while every change to a key is heard: with PostgreSQL the
 * `key`/`user` notifications evict entries, and while the listening connection is down the cache
 * is flushed and bypassed until it is back (changes made meanwhile were not heard). With SQLite
 * another process (the admin command line) can revoke a key unheard, and a lookup costs
 * microseconds: nothing is cached.
 */
export class KeyLookupCache implements KeyAuthenticator {
  readonly #keys: KeyService;
  readonly #events: ClusterEvents;
  readonly #now: () => number;
  readonly #maxAgeMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, Entry>();
  /** Bumped by every eviction: a lookup that started before one must not fill the cache. */
  #generation = 0;

  constructor(options: KeyLookupCacheOptions) {
    this.#keys = options.keys;
    this.#events = options.events;
    this.#now = options.now ?? Date.now;
    this.#maxAgeMs = options.maxAgeMs ?? 5 * 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    options.events.on('event', (event) => {
      if (event.t === 'key') this.#evictWhere((key) => key.id === event.id);
      else if (event.t === 'user') this.#evictWhere((key) => key.userId === event.id);
    });
    options.events.on('listening', () => this.flush());
    options.keys.events.on('revoked', (keyId) => this.#evictWhere((key) => key.id === keyId));
    // The notification would evict it too, but only after a round trip: this instance's own
    // change must hold on its very next request.
    options.keys.events.on('changed', (keyId) => this.#evictWhere((key) => key.id === keyId));
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Whether lookups are served from memory right now. */
  active(): boolean {
    return this.#events.shared && this.#events.listening();
  }

  flush(): void {
    this.#generation += 1;
    this.#entries.clear();
  }

  async authenticate(candidate: string): Promise<AuthenticatedKey | undefined> {
    if (!this.active()) {
      if (this.#entries.size > 0) this.flush();
      return this.#keys.authenticate(candidate);
    }
    if (!isWellFormedApiKey(candidate)) return undefined;
    const hash = hashApiKey(candidate);
    const now = this.#now();
    const entry = this.#entries.get(hash);
    if (entry && now - entry.cachedAt < this.#maxAgeMs) {
      const { expiresAt } = entry.key;
      if (expiresAt !== null && Date.parse(expiresAt) <= now) {
        this.#entries.delete(hash);
        return undefined;
      }
      this.#keys.noteUse(entry.key.id);
      return entry.key;
    }
    const generation = this.#generation;
    const key = await this.#keys.authenticate(candidate);
    if (key && generation === this.#generation && this.active()) {
      if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
      this.#entries.set(hash, { key, cachedAt: now });
    }
    return key;
  }

  #evictWhere(predicate: (key: AuthenticatedKey) => boolean): void {
    this.#generation += 1;
    for (const [hash, entry] of this.#entries) if (predicate(entry.key)) this.#entries.delete(hash);
  }
}
