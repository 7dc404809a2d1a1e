import type { Kysely } from 'kysely';

/**
 * An OAuth grant's limits beyond its scopes, as a key's (0006_key_policy, SPEC §3.7):
 * `allowed_tools` and `allowed_projects`, JSON arrays of strings or NULL for "no limit". The
 * resource server reads the grant row on every request, so a change holds on the next one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('oauth_grants').addColumn('allowed_tools', 'text').execute();
  await db.schema.alterTable('oauth_grants').addColumn('allowed_projects', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('oauth_grants').dropColumn('allowed_projects').execute();
  await db.schema.alterTable('oauth_grants').dropColumn('allowed_tools').execute();
}
