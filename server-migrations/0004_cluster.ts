import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * What several server instances share (SPEC §3.9): the directory of open legacy SSE streams (so a
 * `POST /messages` landing on any instance finds the stream's holder), the rows that carry a
 * message too large for a NOTIFY payload, and — PostgreSQL only — triggers that announce every
 * change to a key or a user on the channel `pm_mcp_<schema>`, whoever made it (an instance, the
 * admin command line, plain SQL). SQLite runs one instance: the tables exist there too, so both
 * databases keep one schema, and stay empty.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('mcp_sse_streams')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('user_id', 'uuid', (column) =>
      column.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('key_id', 'uuid')
    .addColumn('instance_id', 'text', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull())
    // The holder renews this while it holds the stream; a crashed instance's rows lapse.
    .addColumn('expires_at', 'timestamptz', (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('mcp_sse_streams_user_id_idx')
    .on('mcp_sse_streams')
    .column('user_id')
    .execute();
  await db.schema
    .createIndex('mcp_sse_streams_instance_id_idx')
    .on('mcp_sse_streams')
    .column('instance_id')
    .execute();

  await db.schema
    .createTable('mcp_sse_messages')
    .addColumn('id', 'uuid', (column) => column.primaryKey())
    .addColumn('stream_id', 'text', (column) => column.notNull())
    .addColumn('body', 'text', (column) => column.notNull())
    .addColumn('created_at', 'timestamptz', (column) => column.notNull())
    .execute();

  if (!isPostgres(db)) return;
  // Any change to a key except its last-used stamp (written at most once a minute per key) is
  // announced; so is a key or user removed. Listeners evict caches and close streams on it.
  await sql`
    create or replace function pm_mcp_announce_change() returns trigger
    language plpgsql as $$
    declare
      row_data jsonb;
    begin
      if tg_op = 'DELETE' then
        row_data := to_jsonb(old);
      else
        if (to_jsonb(old) - 'last_used_at') = (to_jsonb(new) - 'last_used_at') then
          return new;
        end if;
        row_data := to_jsonb(new);
      end if;
      perform pg_notify(
        'pm_mcp_' || tg_table_schema,
        json_build_object(
          't', case when tg_table_name = 'users' then 'user' else 'key' end,
          'id', row_data ->> 'id',
          'user', coalesce(row_data ->> 'user_id', row_data ->> 'id')
        )::text
      );
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger user_mcp_api_keys_announce
    after update or delete on user_mcp_api_keys
    for each row execute function pm_mcp_announce_change()`.execute(db);
  await sql`
    create trigger users_announce
    after delete on users
    for each row execute function pm_mcp_announce_change()`.execute(db);
}

const isPostgres = (db: Kysely<unknown>): boolean =>
  db.getExecutor().adapter instanceof PostgresAdapter;

export async function down(db: Kysely<unknown>): Promise<void> {
  if (isPostgres(db)) {
    await sql`drop trigger if exists users_announce on users`.execute(db);
    await sql`drop trigger if exists user_mcp_api_keys_announce on user_mcp_api_keys`.execute(db);
    await sql`drop function if exists pm_mcp_announce_change()`.execute(db);
  }
  await db.schema.dropTable('mcp_sse_messages').execute();
  await db.schema.dropTable('mcp_sse_streams').execute();
}
