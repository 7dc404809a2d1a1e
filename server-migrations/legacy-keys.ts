import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';

interface LegacyKeyTable {
  user_mcp_api_keys: {
    id: string;
    api_key: string | null;
    key_hash: string | null;
    key_prefix: string;
  };
}

/**
 * Hashes every plaintext `api_key` left by an import from the original deployment into
 * `key_hash` (SHA-256, as new keys) and empties the plaintext column. Idempotent: `migrate` runs it
 * on every start, so rows imported after the schema migrations ran are hashed too.
 */
export async function hashLegacyPlaintextKeys(untyped: Kysely<unknown>): Promise<number> {
  const db = untyped as unknown as Kysely<LegacyKeyTable>;
  const rows = await db
    .selectFrom('user_mcp_api_keys')
    .select(['id', 'api_key'])
    .where('api_key', 'is not', null)
    .execute();
  for (const row of rows) {
    if (row.api_key === null) continue;
    const plaintext = row.api_key.trim();
    await db
      .updateTable('user_mcp_api_keys')
      .set({
        key_hash: createHash('sha256').update(plaintext).digest('hex'),
        key_prefix: plaintext.slice(0, 12),
        api_key: null,
      })
      .where('id', '=', row.id)
      .execute();
  }
  return rows.length;
}
