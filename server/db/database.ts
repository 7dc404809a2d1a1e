import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  OperationNodeTransformer,
  PostgresDialect,
  PostgresIntrospector,
  SqliteDialect,
  sql,
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type KyselyPlugin,
  type SchemaMetadata,
  type TableMetadata,
  type PluginTransformQueryArgs,
  type PrimitiveValueListNode,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type SqliteDatabase,
  type UnknownRow,
  type ValueNode,
} from 'kysely';
import pg from 'pg';
import type { DatabaseTarget } from '../config.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  readonly db: Db;
  readonly kind: DatabaseTarget['kind'];
  /** The PostgreSQL schema in use, when not the default. */
  readonly schema?: string | undefined;
  /** Runs `select 1`; throws when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL schema to use (tests give each server its own). */
  readonly schema?: string;
  /** Called with the SQL of every executed query (tests count queries with it). */
  readonly onQuery?: (sqlText: string) => void;
}

/** SQLite cannot bind booleans: write them as 1/0 (results are normalised with `toBool`). */
const sqliteValue = (value: unknown): unknown =>
  typeof value === 'boolean' ? Number(value) : value;

class SqliteBooleanTransformer extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    const transformed = super.transformValue(node);
    return { ...transformed, value: sqliteValue(transformed.value) };
  }

  protected override transformPrimitiveValueList(
    node: PrimitiveValueListNode,
  ): PrimitiveValueListNode {
    return { ...node, values: node.values.map(sqliteValue) };
  }
}

class SqliteBooleanPlugin implements KyselyPlugin {
  readonly #transformer = new SqliteBooleanTransformer();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node);
  }
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs more than running these
 * small indexed queries. Statements are reused by SQL text (the database is used from one thread,
 * and no statement is iterated, so reuse is safe). The cache is bounded.
 */
function withStatementCache(connection: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => connection.close(),
    prepare(sqlText: string) {
      let statement = statements.get(sqlText);
      if (!statement) {
        if (statements.size >= 500) statements.clear();
        statement = connection.prepare(sqlText);
        statements.set(sqlText, statement);
      }
      return statement;
    },
  };
}

/**
 * What Kysely's migrator asks of the database's catalog (does our bookkeeping table exist?),
 * answered from the connection's own schema only. Kysely's own PostgreSQL introspector reads the
 * tables of every schema, and PostgreSQL fails that read ("schema … does not exist", "relation …
 * does not exist") when any other schema of the database is dropped meanwhile — as when several
 * servers, or test runs, share one database in schemas of their own. Tables come without their
 * columns: nothing here reads them.
 */
class OwnSchemaIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<unknown>;
  readonly #everything: PostgresIntrospector;

  constructor(db: Kysely<unknown>) {
    this.#db = db;
    this.#everything = new PostgresIntrospector(db);
  }

  getSchemas(): Promise<SchemaMetadata[]> {
    return this.#everything.getSchemas();
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; schema: string; is_view: boolean }>`
      select c.relname as name, n.nspname as schema, c.relkind in ('v', 'm') as is_view
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p', 'v', 'm')`.execute(this.#db);
    return rows.map((row) => ({
      name: row.name,
      schema: row.schema,
      isView: row.is_view,
      columns: [],
    }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

class OwnSchemaPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new OwnSchemaIntrospector(db);
  }
}

export function createDatabase(
  target: DatabaseTarget,
  options: DatabaseOptions = {},
): DatabaseHandle {
  const log = options.onQuery
    ? (event: { level: string; query: { sql: string } }) => {
        if (event.level === 'query') options.onQuery?.(event.query.sql);
      }
    : undefined;

  if (target.kind === 'sqlite') {
    if (target.path !== ':memory:')
      mkdirSync(path.dirname(path.resolve(target.path)), { recursive: true });
    const connection = new SQLite(target.path);
    // Hashes and encrypted credentials: readable by the server's user only (WAL files inherit it).
    if (target.path !== ':memory:') chmodSync(target.path, 0o600);
    connection.pragma('journal_mode = WAL');
    connection.pragma('foreign_keys = ON');
    connection.pragma('busy_timeout = 5000');
    connection.pragma('synchronous = NORMAL');
    const db = new Kysely<Database>({
      dialect: new SqliteDialect({ database: withStatementCache(connection) }),
      plugins: [new SqliteBooleanPlugin()],
      ...(log ? { log } : {}),
    });
    return {
      db,
      kind: 'sqlite',
      ping: async () => {
        await sql`select 1`.execute(db);
      },
      close: () => db.destroy(),
    };
  }

  const pool = new pg.Pool({
    connectionString: target.url,
    max: 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    query_timeout: 15_000,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // A client losing its connection (idle in the pool or checked out between queries) must not
  // crash the server: the query in flight fails with a 503 and the next one reconnects.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  const db = new Kysely<Database>({
    dialect: new OwnSchemaPostgresDialect({ pool }),
    ...(log ? { log } : {}),
  });
  return {
    db,
    kind: 'postgres',
    schema: options.schema,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

/** True for errors that mean "the database is not reachable right now" rather than a bug. */
export function isDatabaseUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (
      [
        'ECONNREFUSED',
        'ECONNRESET',
        'ETIMEDOUT',
        'EPIPE',
        'ENOTFOUND',
        'SQLITE_BUSY',
        'SQLITE_CANTOPEN',
      ].includes(code)
    ) {
      return true;
    }
    // PostgreSQL class 08 (connection exception) and 57P (operator intervention: shutdown).
    if (/^(08|57P)/.test(code)) return true;
  }
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/i.test(
    error.message,
  );
}
