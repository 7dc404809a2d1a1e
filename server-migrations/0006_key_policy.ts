import type { Kysely } from 'kysely';

/**
 * A key's limits beyond its scope (SPEC §3.7): `allowed_tools` and `allowed_projects`, each a
 * JSON array of strings, or NULL for "no limit". Plain text on both databases (one schema); the
 * server validates the JSON with zod when it reads a row. A change to either column is announced
 * to every instance by the trigger of 0004 (any change but `last_used_at`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('user_mcp_api_keys').addColumn('allowed_tools', 'text').execute();
  await db.schema.alterTable('user_mcp_api_keys').addColumn('allowed_projects', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('user_mcp_api_keys').dropColumn('allowed_projects').execute();
  await db.schema.alterTable('user_mcp_api_keys').dropColumn('allowed_tools').execute();
}
