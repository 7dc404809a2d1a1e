import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { recordAudit } from '../audit.js';
import type { Db } from '../db/database.js';
import { toBool, toIso, type ApiKeyRow } from '../db/schema.js';
import { AppError, fieldError, notFound } from '../errors.js';
import { displayPrefixOf, generateApiKey, hashApiKey, isWellFormedApiKey } from './key-format.js';
import { policyColumns, policyFromRow, unrestrictedPolicy, type KeyPolicy } from './policy.js';

export type KeyScope = 'read' | 'write';

export interface PublicApiKey {
  id: string;
  name: string;
  key_prefix: string;
  scope: KeyScope;
  is_active: boolean;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  /** The tools this key may use; null: every tool its scope allows. */
  allowed_tools: readonly string[] | null;
  /** Connection ids and `<connection id>:<project key>` it may touch; null: everything. */
  allowed_projects: readonly string[] | null;
}

export interface CreatedApiKey extends Omit<
  PublicApiKey,
  'is_active' | 'last_used_at' | 'revoked_at'
> {
  /** The plaintext, returned exactly once. */
  api_key: string;
  user_id: string;
}

/** The key that authenticated a request. */
export interface AuthenticatedKey {
  id: string;
  userId: string;
  scope: KeyScope;
  expiresAt: string | null;
  /** The key's tool and project limits (server/keys/policy.ts). */
  policy: KeyPolicy;
}

export type KeyCheckResult =
  | { status: 'malformed' }
  | { status: 'unknown' }
  | {
      status: 'revoked' | 'expired' | 'active';
      key: PublicApiKey;
      owner: { id: string; email: string };
    };

/**
 * When a key stops working. A key stored without expiry (imported, or made before a maximum was
 * set) expires `created_at` + the maximum while a maximum is configured.
 */
export function effectiveExpiry(
  row: Pick<ApiKeyRow, 'created_at' | 'expires_at'>,
  maxExpiryDays: number | null,
): string | null {
  const stored = toIso(row.expires_at);
  if (stored !== null || maxExpiryDays === null) return stored;
  return new Date(Date.parse(toIso(row.created_at)) + maxExpiryDays * 86_400_000).toISOString();
}

export function presentKey(row: ApiKeyRow, maxExpiryDays: number | null = null): PublicApiKey {
  const policy = policyFromRow(row);
  return {
    id: row.id,
    name: row.name,
    key_prefix: row.key_prefix,
    scope: row.scope,
    is_active: toBool(row.is_active),
    created_at: toIso(row.created_at),
    last_used_at: toIso(row.last_used_at),
    expires_at: effectiveExpiry(row, maxExpiryDays),
    revoked_at: toIso(row.revoked_at),
    allowed_tools: policy.tools,
    allowed_projects: policy.projects,
  };
}

export interface KeyServiceDeps {
  db: Db;
  now: () => Date;
  defaultExpiryDays: number | null;
  /** With a maximum, every key expires within it (a key without expiry is refused). */
  maxExpiryDays: number | null;
  /** `last_used_at` is written at most this often per key. */
  lastUsedWriteIntervalMs?: number;
  onBackgroundError?: (error: unknown) => void;
}

interface KeyEventMap {
  revoked: [keyId: string];
  /** A key's limits changed here: cached lookups and open streams of it are stale. */
  changed: [keyId: string];
}

/** Personal MCP API keys: create, list, revoke, rotate, authenticate. */
export class KeyService {
  /** `revoked` fires after a key is revoked here, so open MCP sessions on it can be closed. */
  readonly events = new EventEmitter<KeyEventMap>();
  readonly #deps: Required<KeyServiceDeps>;
  readonly #lastWriteAttempt = new Map<string, number>();

  constructor(deps: KeyServiceDeps) {
    this.#deps = { lastUsedWriteIntervalMs: 60_000, onBackgroundError: () => undefined, ...deps };
  }

  async createKey(
    userId: string,
    input: {
      name: string;
      scope?: KeyScope;
      expiresInDays?: number | null;
      /** Already validated (`validatePolicy`). */
      policy?: KeyPolicy;
    },
  ): Promise<CreatedApiKey> {
    const { now, defaultExpiryDays, maxExpiryDays } = this.#deps;
    const days = input.expiresInDays === undefined ? defaultExpiryDays : input.expiresInDays;
    const allowed =
      days === null
        ? maxExpiryDays === null
        : Number.isInteger(days) && days > 0 && days <= (maxExpiryDays ?? Infinity);
    if (!allowed) {
      throw fieldError(
        'expires_in_days',
        maxExpiryDays === null
          ? 'must be a positive whole number of days, or null for no expiry'
          : `must be between 1 and ${maxExpiryDays}: keys on this server expire within ${maxExpiryDays} days`,
      );
    }
    const createdAt = now();
    return this.#insertKey(userId, {
      name: input.name,
      scope: input.scope ?? 'write',
      policy: input.policy ?? unrestrictedPolicy,
      createdAt,
      expiresAt:
        days === null ? null : new Date(createdAt.getTime() + days * 86_400_000).toISOString(),
    });
  }

  async #insertKey(
    userId: string,
    input: {
      name: string;
      scope: KeyScope;
      policy: KeyPolicy;
      createdAt: Date;
      expiresAt: string | null;
    },
  ): Promise<CreatedApiKey> {
    const { db } = this.#deps;
    const plaintext = generateApiKey();
    const row = {
      id: randomUUID(),
      user_id: userId,
      name: input.name.trim(),
      key_hash: hashApiKey(plaintext),
      key_prefix: displayPrefixOf(plaintext),
      scope: input.scope,
      is_active: true,
      last_used_at: null,
      created_at: input.createdAt.toISOString(),
      expires_at: input.expiresAt,
      revoked_at: null,
      api_key: null,
      ...policyColumns(input.policy),
    } as const;
    await db.insertInto('user_mcp_api_keys').values(row).execute();
    await recordAudit(
      db,
      { event: 'key.created', userId, keyId: row.id, detail: row.name },
      input.createdAt,
    );
    return {
      id: row.id,
      api_key: plaintext,
      user_id: userId,
      name: row.name,
      key_prefix: row.key_prefix,
      scope: row.scope,
      created_at: row.created_at,
      expires_at: row.expires_at,
      allowed_tools: input.policy.tools,
      allowed_projects: input.policy.projects,
    };
  }

  async listKeys(userId: string): Promise<PublicApiKey[]> {
    const rows = await this.#deps.db
      .selectFrom('user_mcp_api_keys')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map((row) => presentKey(row, this.#deps.maxExpiryDays));
  }

  async getKey(userId: string, keyId: string): Promise<PublicApiKey> {
    const row = await this.#findOwned(userId, keyId);
    return presentKey(row, this.#deps.maxExpiryDays);
  }

  /** Idempotent; another user's key id is "not found", as a missing one. */
  async revokeKey(userId: string, keyId: string): Promise<void> {
    const { db, now } = this.#deps;
    const row = await this.#findOwned(userId, keyId);
    if (toBool(row.is_active)) {
      await db
        .updateTable('user_mcp_api_keys')
        .set({ is_active: false, revoked_at: now().toISOString() })
        .where('id', '=', row.id)
        .execute();
      await recordAudit(db, { event: 'key.revoked', userId, keyId }, now());
    }
    this.events.emit('revoked', keyId);
  }

  /** The key's current limits (to merge a partial change into). */
  async policyOf(userId: string, keyId: string): Promise<KeyPolicy> {
    return policyFromRow(await this.#findOwned(userId, keyId));
  }

  /**
   * Replaces a key's limits (already validated with `validatePolicy`). Takes effect on the key's
   * next request on every instance: the row change is announced (PostgreSQL) and `changed` fires.
   */
  async setPolicy(userId: string, keyId: string, policy: KeyPolicy): Promise<PublicApiKey> {
    const { db, now } = this.#deps;
    const row = await this.#findOwned(userId, keyId);
    await db
      .updateTable('user_mcp_api_keys')
      .set(policyColumns(policy))
      .where('id', '=', row.id)
      .execute();
    await recordAudit(
      db,
      {
        event: 'key.limits_changed',
        userId,
        keyId,
        detail: `tools ${policy.tools === null ? 'all' : policy.tools.length}, projects ${policy.projects === null ? 'all' : policy.projects.length}`,
      },
      now(),
    );
    this.events.emit('changed', keyId);
    return this.getKey(userId, keyId);
  }

  /**
   * A new key with the same name and scope; the old one is revoked. Rotated by the key itself
   * (`extend: false`), the new key keeps the old one's expiry: a leaked key cannot live on by
   * rotating itself. Rotated by a signed-in session, it gets a fresh lifetime: the old key's own
   * lifetime, at least the default one (so a key shortened by self-rotations recovers), never more
   * than the maximum.
   */
  async rotateKey(
    userId: string,
    keyId: string,
    options: { extend: boolean },
  ): Promise<CreatedApiKey> {
    const { maxExpiryDays, defaultExpiryDays, now } = this.#deps;
    const row = await this.#findOwned(userId, keyId);
    if (!toBool(row.is_active))
      throw new AppError('conflict', 'This key is revoked; create a new one instead');
    const expiresAt = effectiveExpiry(row, maxExpiryDays);
    const createdAt = now();
    let newExpiry = expiresAt;
    if (options.extend && expiresAt !== null) {
      const lifetimeDays = Math.max(
        1,
        Math.round((Date.parse(expiresAt) - Date.parse(toIso(row.created_at))) / 86_400_000),
      );
      const days = Math.min(
        Math.max(lifetimeDays, defaultExpiryDays ?? 0),
        maxExpiryDays ?? Infinity,
      );
      newExpiry = new Date(createdAt.getTime() + days * 86_400_000).toISOString();
    }
    const created = await this.#insertKey(userId, {
      name: row.name,
      scope: row.scope,
      // The new key has the old one's limits: rotating never widens what a key may do.
      policy: policyFromRow(row),
      createdAt,
      expiresAt: newExpiry,
    });
    await this.revokeKey(userId, keyId);
    await recordAudit(
      this.#deps.db,
      {
        event: 'key.rotated',
        userId,
        keyId: created.id,
        detail: options.extend ? keyId : `${keyId} (by itself; expiry kept)`,
      },
      now(),
    );
    return created;
  }

  /**
   * Resolves a presented key to its owner, or undefined for every kind of failure (the caller
   * answers them all with the same 401). A malformed key costs no database query.
   */
  async authenticate(candidate: string): Promise<AuthenticatedKey | undefined> {
    if (!isWellFormedApiKey(candidate)) return undefined;
    const row = await this.#deps.db
      .selectFrom('user_mcp_api_keys')
      .select([
        'id',
        'user_id',
        'scope',
        'is_active',
        'created_at',
        'expires_at',
        'last_used_at',
        'allowed_tools',
        'allowed_projects',
      ])
      .where('key_hash', '=', hashApiKey(candidate))
      .executeTakeFirst();
    if (!row || !toBool(row.is_active)) return undefined;
    const now = this.#deps.now();
    const expiresAt = effectiveExpiry(row, this.#deps.maxExpiryDays);
    if (expiresAt !== null && expiresAt <= now.toISOString()) return undefined;
    this.#touchLastUsed(row.id, toIso(row.last_used_at), now);
    return {
      id: row.id,
      userId: row.user_id,
      scope: row.scope,
      expiresAt,
      policy: policyFromRow(row),
    };
  }

  /** A use of a key authenticated from a cache (no row at hand): at most one write a minute. */
  noteUse(keyId: string): void {
    this.#touchLastUsed(keyId, null, this.#deps.now());
  }

  /** Which ids among these are no longer usable (revoked, expired or deleted). */
  async findUnusable(keyIds: readonly string[]): Promise<Set<string>> {
    if (keyIds.length === 0) return new Set();
    const rows = await this.#deps.db
      .selectFrom('user_mcp_api_keys')
      .select(['id', 'is_active', 'created_at', 'expires_at'])
      .where('id', 'in', keyIds)
      .execute();
    const now = this.#deps.now().toISOString();
    const usable = new Set(
      rows
        .filter((row) => {
          const expiresAt = effectiveExpiry(row, this.#deps.maxExpiryDays);
          return toBool(row.is_active) && (expiresAt === null || expiresAt > now);
        })
        .map((row) => row.id),
    );
    return new Set(keyIds.filter((id) => !usable.has(id)));
  }

  /** For operators (`keys check`): which case a presented key is, without revealing it. */
  async checkKey(candidate: string): Promise<KeyCheckResult> {
    if (!isWellFormedApiKey(candidate)) return { status: 'malformed' };
    const row = await this.#deps.db
      .selectFrom('user_mcp_api_keys')
      .innerJoin('users', 'users.id', 'user_mcp_api_keys.user_id')
      .selectAll('user_mcp_api_keys')
      .select(['users.email as owner_email'])
      .where('key_hash', '=', hashApiKey(candidate))
      .executeTakeFirst();
    if (!row) return { status: 'unknown' };
    const key = presentKey(row, this.#deps.maxExpiryDays);
    const owner = { id: row.user_id, email: row.owner_email };
    if (!key.is_active) return { status: 'revoked', key, owner };
    if (key.expires_at !== null && key.expires_at <= this.#deps.now().toISOString()) {
      return { status: 'expired', key, owner };
    }
    return { status: 'active', key, owner };
  }

  /** At most one write per key per interval: the stored value itself is the throttle. */
  #touchLastUsed(keyId: string, lastUsedAt: string | null, now: Date): void {
    const interval = this.#deps.lastUsedWriteIntervalMs;
    if (lastUsedAt !== null && now.getTime() - Date.parse(lastUsedAt) < interval) return;
    // Concurrent requests all read the old value before the first write lands: remember the
    // attempt here too. The WHERE clause keeps several server instances to one write as well.
    const attemptedAt = this.#lastWriteAttempt.get(keyId);
    if (attemptedAt !== undefined && now.getTime() - attemptedAt < interval) return;
    if (this.#lastWriteAttempt.size > 50_000) this.#lastWriteAttempt.clear();
    this.#lastWriteAttempt.set(keyId, now.getTime());
    const threshold = new Date(now.getTime() - interval).toISOString();
    this.#deps.db
      .updateTable('user_mcp_api_keys')
      .set({ last_used_at: now.toISOString() })
      .where('id', '=', keyId)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', threshold)]))
      .execute()
      .catch(this.#deps.onBackgroundError);
  }

  async #findOwned(userId: string, keyId: string): Promise<ApiKeyRow> {
    const row = await this.#deps.db
      .selectFrom('user_mcp_api_keys')
      .selectAll()
      .where('id', '=', keyId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw notFound('API key');
    return row;
  }
}
