import { Migrator, PostgresAdapter, sql, type Kysely, type MigrationResult } from 'kysely';
import { hashLegacyPlaintextKeys, migrations } from '../../server-migrations/index.js';
import type { Db } from './database.js';

export interface MigrationReport {
  applied: string[];
  legacyKeysHashed: number;
}

/**
 * Kysely looks for its bookkeeping tables in every schema unless told which one is ours: on a
 * PostgreSQL database shared by several schemas (tests; operators choosing one through libpq
 * `options`) it would find another schema's. Ours is the given one, else the connection's
 * `current_schema()`.
 */
async function migrationTableSchema(
  db: Db,
  schema: string | undefined,
): Promise<string | undefined> {
  if (schema) return schema;
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined;
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0]?.schema;
}

async function migratorFor(db: Db, schema: string | undefined): Promise<Migrator> {
  const tableSchema = await migrationTableSchema(db, schema);
  return new Migrator({
    db,
    ...(tableSchema ? { migrationTableSchema: tableSchema } : {}),
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
}

/** Migrations this version knows that the database has not applied (readiness). */
export async function pendingMigrations(
  db: Db,
  options: { schema?: string | undefined } = {},
): Promise<string[]> {
  const migrator = await migratorFor(db, options.schema);
  const known = await migrator.getMigrations();
  return known.filter((migration) => migration.executedAt === undefined).map((m) => m.name);
}

/**
 * Applies every pending migration, then hashes any legacy plaintext keys imported since. Safe
 * for several instances starting at once: Kysely takes a lock first (on PostgreSQL a
 * transaction-scoped advisory lock, `pg_advisory_xact_lock`), and whoever comes second finds
 * nothing left to apply.
 */
export async function migrateToLatest(
  db: Db,
  options: { schema?: string | undefined } = {},
): Promise<MigrationReport> {
  const migrator = await migratorFor(db, options.schema);
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result: MigrationResult) => result.status === 'Error');
    const cause = error instanceof Error ? error : new Error('Migrating failed', { cause: error });
    // No migration ran (e.g. the database cannot be reached): the error itself says why.
    if (!failed) throw cause;
    throw new Error(`Migration ${failed.migrationName} failed: ${cause.message}`, { cause });
  }
  const legacyKeysHashed = await hashLegacyPlaintextKeys(db as unknown as Kysely<unknown>);
  return {
    applied: (results ?? [])
      .filter((result) => result.status === 'Success')
      .map((result) => result.migrationName),
    legacyKeysHashed,
  };
}
