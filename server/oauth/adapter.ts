import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from '../db/database.js';
import { toIso } from '../db/schema.js';

/**
 * `oidc-provider`'s storage on our database (`oauth_store`), so every instance sees every
 * interaction, code, token, registered client and grant: a flow may begin on one instance and end
 * on another, and a revocation is seen by all of them on the next lookup. Expired rows read as
 * absent (whatever the provider's own check says) and are purged by `purgeExpired`.
 */
export function createDatabaseAdapterFactory(db: Db, now: () => Date): (kind: string) => Adapter {
  return (kind: string) => new DatabaseAdapter(db, kind, now);
}

class DatabaseAdapter implements Adapter {
  constructor(
    private readonly db: Db,
    private readonly kind: string,
    private readonly now: () => Date,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const row = {
      payload: JSON.stringify(payload),
      grant_id: typeof payload.grantId === 'string' ? payload.grantId : null,
      uid: typeof payload.uid === 'string' ? payload.uid : null,
      user_code: typeof payload.userCode === 'string' ? payload.userCode : null,
      expires_at: expiresIn
        ? new Date(this.now().getTime() + expiresIn * 1000).toISOString()
        : null,
    };
    await this.db
      .insertInto('oauth_store')
      .values({ kind: this.kind, id, consumed_at: null, ...row })
      .onConflict((conflict) => conflict.columns(['kind', 'id']).doUpdateSet(row))
      .execute();
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.#findWhere('id', id);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findWhere('uid', uid);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findWhere('user_code', userCode);
  }

  async consume(id: string): Promise<void> {
    await this.db
      .updateTable('oauth_store')
      .set({ consumed_at: this.now().toISOString() })
      .where('kind', '=', this.kind)
      .where('id', '=', id)
      .execute();
  }

  async destroy(id: string): Promise<void> {
    await this.db
      .deleteFrom('oauth_store')
      .where('kind', '=', this.kind)
      .where('id', '=', id)
      .execute();
  }

  /** Every kind at once: a revoked grant takes its codes and tokens with it. */
  revokeByGrantId(grantId: string): Promise<void> {
    return destroyGrantRecords(this.db, grantId);
  }

  async #findWhere(
    column: 'id' | 'uid' | 'user_code',
    value: string,
  ): Promise<AdapterPayload | undefined> {
    const row = await this.db
      .selectFrom('oauth_store')
      .select(['payload', 'expires_at', 'consumed_at'])
      .where('kind', '=', this.kind)
      .where(column, '=', value)
      .executeTakeFirst();
    if (!row) return undefined;
    const expiresAt = toIso(row.expires_at);
    if (expiresAt !== null && Date.parse(expiresAt) <= this.now().getTime()) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    const consumedAt = toIso(row.consumed_at);
    if (consumedAt !== null) payload.consumed = Math.floor(Date.parse(consumedAt) / 1000);
    return payload;
  }
}

/** Removes what has expired (run periodically; lookups already ignore it). */
export async function purgeExpired(db: Db, now: Date): Promise<void> {
  await db.deleteFrom('oauth_store').where('expires_at', '<=', now.toISOString()).execute();
}

/** A grant and every code and token issued under it. */
export async function destroyGrantRecords(db: Db, grantId: string): Promise<void> {
  await db.deleteFrom('oauth_store').where('grant_id', '=', grantId).execute();
}

/**
 * Deletes one record and says whether this call was the one that deleted it: of two requests
 * presenting the same single-use token at once, exactly one gets `true`.
 */
export async function takeOnce(db: Db, kind: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('oauth_store')
    .where('kind', '=', kind)
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
