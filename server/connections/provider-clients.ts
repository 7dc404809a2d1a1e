import {
  createProviderClient,
  type ProviderClient,
  type ProviderConnectionSettings,
  type ProviderHttpOptions,
} from '../providers/index.js';
import type { UserConnection } from './connections.js';

export interface ProviderClientCacheOptions {
  /** Every client gets these (the operator's `allowedHosts`, timeouts). */
  httpOptions?: ProviderHttpOptions | undefined;
  /** Connections whose client is kept; the least recently used one goes first. Default 1,000. */
  maxEntries?: number;
  /**
   * A client is rebuilt after this long, so what it caches for its life (Jira's field list,
   * OpenProject's statuses and schemas) is read again now and then. Default 5 minutes.
   */
  maxAgeMs?: number;
  now?: () => number;
  /** Builds a client (tests count the builds). Default `createProviderClient`. */
  create?: (
    settings: ProviderConnectionSettings,
    httpOptions: ProviderHttpOptions,
  ) => ProviderClient;
}

interface Entry {
  readonly revision: string;
  readonly client: ProviderClient;
  readonly createdAt: number;
}

/**
 * One provider client per connection, kept between tool calls instead of decrypting the credential
 * and building an axios instance on every call. An entry is keyed by the owning user and the
 * connection id, and used only while the connection's `revision` (its `updated_at` and stored
 * credential) is the one it was built from: an edit of the credential or base URL builds a new
 * client on the next call. A client is never handed to another user: the user is part of the key.
 */
export class ProviderClientCache {
  readonly #entries = new Map<string, Entry>();
  readonly #httpOptions: ProviderHttpOptions;
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #create: NonNullable<ProviderClientCacheOptions['create']>;

  constructor(options: ProviderClientCacheOptions = {}) {
    this.#httpOptions = options.httpOptions ?? {};
    this.#maxEntries = Math.max(1, options.maxEntries ?? 1_000);
    this.#maxAgeMs = options.maxAgeMs ?? 5 * 60_000;
    this.#now = options.now ?? Date.now;
    this.#create = options.create ?? createProviderClient;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The client for this user's connection (which the caller read as this user's own). */
  clientFor(userId: string, connection: UserConnection): ProviderClient {
    const key = `${userId}\u0000${connection.id}`;
    const now = this.#now();
    const entry = this.#entries.get(key);
    this.#entries.delete(key);
    if (entry && entry.revision === connection.revision && now - entry.createdAt < this.#maxAgeMs) {
      this.#entries.set(key, entry); // most recently used last
      return entry.client;
    }
    const { providerType, baseUrl, credentials } = connection.settings();
    const client = this.#create(
      { providerType, baseUrl, email: credentials.email, apiToken: credentials.apiToken },
      this.#httpOptions,
    );
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { revision: connection.revision, client, createdAt: now });
    return client;
  }

  clear(): void {
    this.#entries.clear();
  }
}
