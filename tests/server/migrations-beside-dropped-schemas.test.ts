import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createDatabase } from '../../server/db/database.js';
import { migrateToLatest, pendingMigrations } from '../../server/db/migrate.js';
import { createPostgresSchema, postgresUrl } from '../support/databases.js';

/**
 * Several schemas on one PostgreSQL database (the tests do it; so may an operator): schemas
 * created and dropped beside a server that migrates must not fail its migrations. Kysely reads
 * the tables of every schema to find its own, and PostgreSQL answers that read with "schema … does
 * not exist" when another schema vanishes during it.
 */
describe('migrations while other schemas of the database are dropped', () => {
  it('apply and report pending ones despite a stream of other schemas created and dropped', async () => {
    const churn = new pg.Client({ connectionString: postgresUrl });
    await churn.connect();
    let churning = true;
    let dropped = 0;
    const churning$ = (async () => {
      while (churning) {
        const name = `t_churn_${process.pid}_${dropped % 4}`;
        await churn.query(`create schema if not exists ${name}`);
        await churn.query(`create table if not exists ${name}.filler (id int)`);
        await churn.query(`drop schema ${name} cascade`);
        dropped += 1;
      }
    })();
    const schemas: { drop(): Promise<void> }[] = [];
    try {
      for (let round = 0; round < 12; round += 1) {
        const schema = await createPostgresSchema();
        schemas.push(schema);
        const database = createDatabase(
          { kind: 'postgres', url: postgresUrl },
          { schema: schema.schema },
        );
        try {
          const report = await migrateToLatest(database.db, { schema: schema.schema });
          expect(report.applied.length).toBeGreaterThan(0);
          expect(await pendingMigrations(database.db, { schema: schema.schema })).toEqual([]);
        } finally {
          await database.close();
        }
      }
    } finally {
      churning = false;
      await churning$;
      await churn.end();
      for (const schema of schemas) await schema.drop();
    }
    expect(dropped).toBeGreaterThan(12);
  }, 120_000);
});
