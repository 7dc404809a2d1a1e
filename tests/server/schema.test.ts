import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createDatabase, type DatabaseHandle } from '../../server/db/database.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import { createPostgresSchema, postgresUrl } from '../support/databases.js';

interface SchemaShape {
  tables: Record<
    string,
    {
      columns: Record<string, { type: string; nullable: boolean }>;
      indexes: Record<string, { unique: boolean; columns: string }>;
    }
  >;
}

async function sqliteShape(handle: DatabaseHandle): Promise<SchemaShape> {
  const shape: SchemaShape = { tables: {} };
  const tables = await sql<{
    name: string;
  }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%'`.execute(
    handle.db,
  );
  for (const { name } of tables.rows) {
    const columns = await sql<{
      name: string;
      type: string;
      notnull: number;
      pk: number;
    }>`select * from pragma_table_info(${name})`.execute(handle.db);
    const indexes = await sql<{
      name: string;
      unique: number;
      origin: string;
    }>`select * from pragma_index_list(${name})`.execute(handle.db);
    const table: SchemaShape['tables'][string] = { columns: {}, indexes: {} };
    for (const column of columns.rows) {
      table.columns[column.name] = {
        type: column.type.toLowerCase(),
        nullable: column.notnull === 0 && column.pk === 0,
      };
    }
    for (const index of indexes.rows.filter((item) => item.origin === 'c')) {
      const definition = await sql<{
        sql: string;
      }>`select sql from sqlite_master where type = 'index' and name = ${index.name}`.execute(
        handle.db,
      );
      const columnsText = /\((.*)\)\s*$/.exec(definition.rows[0]?.sql ?? '')?.[1] ?? '';
      table.indexes[index.name] = {
        unique: index.unique === 1,
        columns: columnsText.replaceAll('"', '').toLowerCase(),
      };
    }
    shape.tables[name] = table;
  }
  return shape;
}

const postgresTypes: Record<string, string> = {
  uuid: 'uuid',
  text: 'text',
  boolean: 'boolean',
  integer: 'integer',
  'timestamp with time zone': 'timestamptz',
};

async function postgresShape(handle: DatabaseHandle): Promise<SchemaShape> {
  const shape: SchemaShape = { tables: {} };
  const columns = await sql<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_nullable: string;
  }>`
    select table_name, column_name, data_type, is_nullable from information_schema.columns
    where table_schema = current_schema() and table_name not like 'kysely_%'`.execute(handle.db);
  for (const column of columns.rows) {
    const table = (shape.tables[column.table_name] ??= { columns: {}, indexes: {} });
    table.columns[column.column_name] = {
      type: postgresTypes[column.data_type] ?? column.data_type,
      nullable: column.is_nullable === 'YES',
    };
  }
  const indexes = await sql<{ tablename: string; indexname: string; indexdef: string }>`
    select tablename, indexname, indexdef from pg_indexes
    where schemaname = current_schema() and tablename not like 'kysely_%' and indexname not like '%_pkey'`.execute(
    handle.db,
  );
  for (const index of indexes.rows) {
    const table = shape.tables[index.tablename];
    if (!table) continue;
    const columnsText = /USING btree \((.*)\)$/.exec(index.indexdef)?.[1] ?? '';
    table.indexes[index.indexname] = {
      unique: index.indexdef.startsWith('CREATE UNIQUE'),
      columns: columnsText.replaceAll('"', '').toLowerCase(),
    };
  }
  return shape;
}

describe('migrations', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it('produce the same tables, columns, types and indexes on SQLite and PostgreSQL', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-schema-'));
    const sqlite = createDatabase({
      kind: 'sqlite',
      path: path.join(folder, `schema-${randomBytes(4).toString('hex')}.sqlite`),
    });
    const pgSchema = await createPostgresSchema();
    const postgres = createDatabase(
      { kind: 'postgres', url: postgresUrl },
      { schema: pgSchema.schema },
    );
    cleanups.push(async () => {
      await sqlite.close();
      await postgres.close();
      await pgSchema.drop();
      rmSync(folder, { recursive: true, force: true });
    });
    await migrateToLatest(sqlite.db);
    await migrateToLatest(postgres.db, { schema: pgSchema.schema });
    const [fromSqlite, fromPostgres] = [await sqliteShape(sqlite), await postgresShape(postgres)];
    expect(Object.keys(fromSqlite.tables).sort()).toEqual([
      'audit_log',
      'mcp_sse_messages',
      'mcp_sse_streams',
      'oauth_grants',
      'oauth_store',
      'pm_provider_connections',
      'refresh_tokens',
      'user_identities',
      'user_mcp_api_keys',
      'users',
    ]);
    // One deliberate difference: the failed-attempt counts that PostgreSQL instances share live
    // in an UNLOGGED table there (migration 0003); a SQLite server is one instance and counts in
    // its own memory, so it has no such table.
    const { auth_limits: authLimits, ...sharedWithSqlite } = fromPostgres.tables;
    expect(authLimits).toEqual({
      columns: {
        subject: { type: 'text', nullable: false },
        attempts: { type: 'integer', nullable: false },
        resets_at: { type: 'timestamptz', nullable: false },
      },
      indexes: { auth_limits_resets_at_idx: { unique: false, columns: 'resets_at' } },
    });
    const persistence = await sql<{ relpersistence: string }>`
      select relpersistence from pg_class where oid = 'auth_limits'::regclass`.execute(postgres.db);
    expect(persistence.rows[0]?.relpersistence).toBe('u');
    expect({ tables: sharedWithSqlite }).toEqual(fromSqlite);
    expect(fromSqlite.tables.user_mcp_api_keys?.indexes.user_mcp_api_keys_key_hash_key).toEqual({
      unique: true,
      columns: 'key_hash',
    });
    expect(fromSqlite.tables.users?.indexes.users_email_lower_key).toEqual({
      unique: true,
      columns: 'lower(email)',
    });
  });

  it('are idempotent: a second run applies nothing', async () => {
    const sqlite = createDatabase({ kind: 'sqlite', path: ':memory:' });
    cleanups.push(() => sqlite.close());
    expect((await migrateToLatest(sqlite.db)).applied.length).toBeGreaterThan(0);
    expect((await migrateToLatest(sqlite.db)).applied).toEqual([]);
  });
});
