import { Migrator, type Kysely, type MigrationResult } from 'kysely';
import { hashLegacyPlaintextKeys, migrations } from '../../server-migrations/index.js';
import type { Db } from './database.js';

export interface MigrationReport {
  applied: string[];
  legacyKeysHashed: number;
}

/** Migrations this version knows that the database has not applied (readiness). */
export async function pendingMigrations(
  db: Db,
  options: { schema?: string | undefined } = {},
): Promise<string[]> {
  const migrator = new Migrator({
    db,
    ...(options.schema ? { migrationTableSchema: options.schema } : {}),
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
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
  const migrator = new Migrator({
    db,
    // Kysely looks for its bookkeeping tables in every schema unless told which one is ours.
    ...(options.schema ? { migrationTableSchema: options.schema } : {}),
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
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
