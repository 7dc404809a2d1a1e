import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The failed-attempt counts that every instance on one PostgreSQL database shares (SPEC §3.5).
 * UNLOGGED: a counter is not worth a WAL write, and losing the counts in a crash only restarts
 * the windows. SQLite deployments are one instance and count in-process, so this creates
 * nothing there (tests/server/schema.test.ts says so).
 */
const isPostgres = (db: Kysely<unknown>) => db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(db: Kysely<unknown>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`create unlogged table auth_limits (
    subject text primary key,
    attempts integer not null,
    resets_at timestamptz not null
  )`.execute(db);
  await sql`create index auth_limits_resets_at_idx on auth_limits (resets_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`drop table if exists auth_limits`.execute(db);
}
