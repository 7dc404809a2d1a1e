import { sql, type Kysely } from 'kysely';

/**
 * The initial schema. Column types are spelled the same on SQLite and PostgreSQL (SQLite keeps the
 * declared names, with matching affinities), so both databases report one schema.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (column) => column.primaryKey())
    .addColumn('email', 'text', (column) => column.notNull())
    .addColumn('name', 'text')
    .addColumn('password_hash', 'text', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull())
    .addColumn('updated_at', 'timestamptz', (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('users_email_lower_key')
    .on('users')
    .unique()
    .expression(sql`lower(email)`)
    .execute();

  await db.schema
    .createTable('user_mcp_api_keys')
    .addColumn('id', 'uuid', (column) => column.primaryKey())
    .addColumn('user_id', 'uuid', (column) =>
      column.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('key_hash', 'text')
    .addColumn('key_prefix', 'text', (column) => column.notNull())
    .addColumn('scope', 'text', (column) => column.notNull().defaultTo('write'))
    .addColumn('is_active', 'boolean', (column) => column.notNull().defaultTo(true))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (column) => column.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('api_key', 'text')
    .execute();
  await db.schema
    .createIndex('user_mcp_api_keys_key_hash_key')
    .on('user_mcp_api_keys')
    .column('key_hash')
    .unique()
    .execute();
  await db.schema
    .createIndex('user_mcp_api_keys_user_id_idx')
    .on('user_mcp_api_keys')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('pm_provider_connections')
    .addColumn('id', 'uuid', (column) => column.primaryKey())
    .addColumn('created_by', 'uuid', (column) =>
      column.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('provider_type', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('base_url', 'text', (column) => column.notNull())
    .addColumn('encrypted_credentials', 'text', (column) => column.notNull())
    .addColumn('key_version', 'integer', (column) => column.notNull().defaultTo(1))
    .addColumn('is_active', 'boolean', (column) => column.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (column) => column.notNull())
    .addColumn('updated_at', 'timestamptz', (column) => column.notNull())
    .addColumn('last_checked_at', 'timestamptz')
    .addColumn('last_check_ok', 'boolean')
    .addColumn('last_check_message', 'text')
    .execute();
  await db.schema
    .createIndex('pm_provider_connections_created_by_idx')
    .on('pm_provider_connections')
    .column('created_by')
    .execute();

  await db.schema
    .createTable('refresh_tokens')
    .addColumn('id', 'uuid', (column) => column.primaryKey())
    .addColumn('user_id', 'uuid', (column) =>
      column.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('family_id', 'uuid', (column) => column.notNull())
    .addColumn('token_hash', 'text', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull())
    .addColumn('expires_at', 'timestamptz', (column) => column.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('replaced_by', 'uuid')
    .execute();
  await db.schema
    .createIndex('refresh_tokens_token_hash_key')
    .on('refresh_tokens')
    .column('token_hash')
    .unique()
    .execute();
  await db.schema
    .createIndex('refresh_tokens_family_id_idx')
    .on('refresh_tokens')
    .column('family_id')
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'uuid', (column) => column.primaryKey())
    .addColumn('event', 'text', (column) => column.notNull())
    .addColumn('user_id', 'uuid')
    .addColumn('key_id', 'uuid')
    .addColumn('ip', 'text')
    .addColumn('detail', 'text')
    .addColumn('created_at', 'timestamptz', (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('audit_log_created_at_idx')
    .on('audit_log')
    .column('created_at')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'audit_log',
    'refresh_tokens',
    'pm_provider_connections',
    'user_mcp_api_keys',
    'users',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
