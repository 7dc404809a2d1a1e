import type { Kysely } from 'kysely';

/**
 * OAuth 2.1 and SSO (SPEC §3.10).
 *
 * - `oauth_store`: everything the authorization server (`oidc-provider`) persists — interactions,
 *   authorization codes, access and refresh tokens, dynamically registered clients, grants — as
 *   JSON by (kind, id), so any instance can serve any step of a flow.
 * - `oauth_grants`: one row per grant a user gave an MCP client, listed and revoked like a key;
 *   the resource server checks it on every request.
 * - `user_identities`: accounts at an OpenID Connect provider linked to a user.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('oauth_store')
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.notNull())
    .addColumn('payload', 'text', (column) => column.notNull())
    .addColumn('grant_id', 'text')
    .addColumn('uid', 'text')
    .addColumn('user_code', 'text')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('consumed_at', 'timestamptz')
    .addPrimaryKeyConstraint('oauth_store_pkey', ['kind', 'id'])
    .execute();
  await db.schema
    .createIndex('oauth_store_grant_id_idx')
    .on('oauth_store')
    .column('grant_id')
    .execute();
  await db.schema.createIndex('oauth_store_uid_idx').on('oauth_store').column('uid').execute();
  await db.schema
    .createIndex('oauth_store_expires_at_idx')
    .on('oauth_store')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('oauth_grants')
    .addColumn('id', 'uuid', (column) => column.primaryKey())
    .addColumn('grant_id', 'text', (column) => column.notNull())
    .addColumn('user_id', 'uuid', (column) =>
      column.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('client_id', 'text', (column) => column.notNull())
    .addColumn('client_name', 'text', (column) => column.notNull())
    .addColumn('scope', 'text', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('oauth_grants_grant_id_key')
    .on('oauth_grants')
    .column('grant_id')
    .unique()
    .execute();
  await db.schema
    .createIndex('oauth_grants_user_id_idx')
    .on('oauth_grants')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('user_identities')
    .addColumn('id', 'uuid', (column) => column.primaryKey())
    .addColumn('user_id', 'uuid', (column) =>
      column.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('issuer', 'text', (column) => column.notNull())
    .addColumn('subject', 'text', (column) => column.notNull())
    .addColumn('email', 'text', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull())
    .addColumn('last_login_at', 'timestamptz', (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('user_identities_issuer_subject_key')
    .on('user_identities')
    .columns(['issuer', 'subject'])
    .unique()
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('user_identities').execute();
  await db.schema.dropTable('oauth_grants').execute();
  await db.schema.dropTable('oauth_store').execute();
}
