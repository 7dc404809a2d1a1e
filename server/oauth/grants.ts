import { randomUUID } from 'node:crypto';
import type { Db } from '../db/database.js';
import { toIso } from '../db/schema.js';
import { notFound } from '../errors.js';
import { policyColumns, policyFromRow, type KeyPolicy } from '../keys/policy.js';

/** A grant as its user sees it (like a key: who, what, when; never a token). */
export interface PublicGrant {
  id: string;
  client_id: string;
  client_name: string;
  scope: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  /** Limits beyond the scopes, as a key's (SPEC §3.7): null for none. */
  allowed_tools: readonly string[] | null;
  allowed_projects: readonly string[] | null;
}

/** The grant behind a presented access token, when it is still in force. */
export interface ActiveGrant {
  id: string;
  userId: string;
  policy: KeyPolicy;
}

const lastUsedIntervalMs = 60_000;

/**
 * The grants users gave MCP clients (`oauth_grants`). The authorization server's own record of a
 * grant, and every code and token issued under it, live in `oauth_store`; revoking deletes those
 * and marks this row, so the next request with any of its tokens fails on every instance.
 */
export class GrantService {
  readonly #db: Db;
  readonly #now: () => Date;
  /** When this instance last wrote `last_used_at` per grant (at most once a minute). */
  readonly #lastWritten = new Map<string, number>();

  constructor(db: Db, now: () => Date) {
    this.#db = db;
    this.#now = now;
  }

  /** Records a grant the first time its user consents (later consents widen the same grant). */
  async record(input: {
    grantId: string;
    userId: string;
    clientId: string;
    clientName: string;
    scope: string;
  }): Promise<void> {
    const existing = await this.#db
      .selectFrom('oauth_grants')
      .select('id')
      .where('grant_id', '=', input.grantId)
      .executeTakeFirst();
    if (existing) {
      await this.#db
        .updateTable('oauth_grants')
        .set({ scope: input.scope })
        .where('id', '=', existing.id)
        .execute();
      return;
    }
    await this.#db
      .insertInto('oauth_grants')
      .values({
        id: randomUUID(),
        grant_id: input.grantId,
        user_id: input.userId,
        client_id: input.clientId,
        client_name: input.clientName,
        scope: input.scope,
        created_at: this.#now().toISOString(),
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
  }

  /** The user's grants still in force (not revoked, the authorization server still holds them). */
  async list(userId: string): Promise<PublicGrant[]> {
    const rows = await this.#db
      .selectFrom('oauth_grants')
      .innerJoin('oauth_store', (join) =>
        join
          .onRef('oauth_store.id', '=', 'oauth_grants.grant_id')
          .on('oauth_store.kind', '=', 'Grant'),
      )
      .select([
        'oauth_grants.id',
        'oauth_grants.client_id',
        'oauth_grants.client_name',
        'oauth_grants.scope',
        'oauth_grants.created_at',
        'oauth_grants.last_used_at',
        'oauth_grants.allowed_tools',
        'oauth_grants.allowed_projects',
        'oauth_store.expires_at',
      ])
      .where('oauth_grants.user_id', '=', userId)
      .where('oauth_grants.revoked_at', 'is', null)
      .orderBy('oauth_grants.created_at', 'asc')
      .execute();
    const now = this.#now().getTime();
    return rows
      .map((row) => {
        const policy = policyFromRow(row);
        return {
          id: row.id,
          client_id: row.client_id,
          client_name: row.client_name,
          scope: row.scope,
          created_at: toIso(row.created_at),
          last_used_at: toIso(row.last_used_at),
          expires_at: toIso(row.expires_at),
          allowed_tools: policy.tools,
          allowed_projects: policy.projects,
        };
      })
      .filter((grant) => grant.expires_at === null || Date.parse(grant.expires_at) > now);
  }

  /** A grant's limits (`404` when it is not the user's grant in force). */
  async policyOf(userId: string, id: string): Promise<KeyPolicy> {
    const row = await this.#db
      .selectFrom('oauth_grants')
      .select(['allowed_tools', 'allowed_projects'])
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) throw notFound('Grant');
    return policyFromRow(row);
  }

  /** Sets a grant's limits (already validated); its tokens obey them from their next request. */
  async setPolicy(userId: string, id: string, policy: KeyPolicy): Promise<PublicGrant> {
    const updated = await this.#db
      .updateTable('oauth_grants')
      .set(policyColumns(policy))
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    const grant = (await this.list(userId)).find((listed) => listed.id === id);
    if (Number(updated.numUpdatedRows) === 0 || !grant) throw notFound('Grant');
    return grant;
  }

  /** Ends a grant and everything issued under it. Another user's grant is `404`, like none. */
  async revoke(userId: string, id: string): Promise<void> {
    const row = await this.#db
      .selectFrom('oauth_grants')
      .select(['id', 'grant_id'])
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) throw notFound('Grant');
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable('oauth_grants')
        .set({ revoked_at: this.#now().toISOString() })
        .where('id', '=', row.id)
        .execute();
      await trx.deleteFrom('oauth_store').where('grant_id', '=', row.grant_id).execute();
    });
  }

  /** Checked on every request carrying an access token; stamps `last_used_at` (throttled). */
  async active(grantId: string): Promise<ActiveGrant | undefined> {
    const row = await this.#db
      .selectFrom('oauth_grants')
      .select(['id', 'user_id', 'allowed_tools', 'allowed_projects'])
      .where('grant_id', '=', grantId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    const now = this.#now();
    const last = this.#lastWritten.get(row.id);
    if (last === undefined || now.getTime() - last >= lastUsedIntervalMs) {
      this.#lastWritten.set(row.id, now.getTime());
      await this.#db
        .updateTable('oauth_grants')
        .set({ last_used_at: now.toISOString() })
        .where('id', '=', row.id)
        .execute();
    }
    return { id: row.id, userId: row.user_id, policy: policyFromRow(row) };
  }
}
