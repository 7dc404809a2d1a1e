import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../../server/db/database.js';
import { defaultSseStreamLimits } from '../../server/mcp/sse-streams.js';
import type { DatabaseKind } from '../../tests/support/databases.js';
import { startTestServer } from '../../tests/support/server.js';
import {
  serveCommands,
  startChild,
  startChildMain,
  type Child,
  type ChildOptions,
} from './child.js';

/**
 * The real PM MCP server in its own process (`startTestServer`: a fresh SQLite file or PostgreSQL
 * schema, dropped on stop), with `LOG_LEVEL=warn` so request logging is not what is measured.
 */

const seedBatch = 100_000;

/**
 * Inserts keys for `userId` straight into the table: `hashes` (of keys the caller holds) and
 * `filler` rows whose hashes are spread like SHA-256 hex (SQLite: 192 random bits and a counter,
 * which keeps them unique; PostgreSQL: SHA-256 of a random UUID), in batches so that no
 * statement meets the pool's query timeout. Returns how many keys the table holds.
 */
async function seedKeys(
  database: DatabaseHandle,
  userId: string,
  filler: number,
  hashes: readonly string[],
): Promise<number> {
  const { db } = database;
  // Random inserts into two 1M-entry indexes thrash SQLite's default 2 MB page cache; give the
  // seeding a large one and put the server's own back before anything is measured.
  const cacheSize =
    database.kind === 'sqlite'
      ? (await sql<{ cache_size: number }>`pragma cache_size`.execute(db)).rows[0]?.cache_size
      : undefined;
  if (cacheSize !== undefined) await sql`pragma cache_size = -262144`.execute(db);
  for (let done = 0; done < filler; done += seedBatch) {
    const rows = Math.min(seedBatch, filler - done);
    if (database.kind === 'sqlite') {
      await sql`
        with recursive n(i) as (select 1 union all select i + 1 from n where i < ${rows})
        insert into user_mcp_api_keys
          (id, user_id, name, key_hash, key_prefix, scope, is_active, created_at)
        select printf('b3000000-0000-4000-8000-%012d', ${done} + i), ${userId}, 'bench',
               lower(hex(randomblob(24))) || printf('%016x', ${done} + i),
               'mcp_bench', 'read', 1, '2025-01-01T00:00:00.000Z'
        from n`.execute(db);
    } else {
      await sql`
        insert into user_mcp_api_keys
          (id, user_id, name, key_hash, key_prefix, scope, is_active, created_at)
        select gen_random_uuid(), ${userId}, 'bench',
               encode(sha256(uuid_send(gen_random_uuid())), 'hex'), 'mcp_bench', 'read', true, now()
        from generate_series(1, ${rows})`.execute(db);
    }
  }
  const createdAt = new Date().toISOString();
  for (let index = 0; index < hashes.length; index += 1_000) {
    await db
      .insertInto('user_mcp_api_keys')
      .values(
        hashes.slice(index, index + 1_000).map((hash) => ({
          id: randomUUID(),
          user_id: userId,
          name: 'bench',
          key_hash: hash,
          key_prefix: 'mcp_bench',
          scope: 'write' as const,
          is_active: true,
          created_at: createdAt,
        })),
      )
      .execute();
  }
  if (cacheSize !== undefined) await sql.raw(`pragma cache_size = ${cacheSize}`).execute(db);
  // A table that grew to this size in production has been vacuumed; a freshly loaded one would
  // be vacuumed by autovacuum in the middle of the measurement.
  if (database.kind === 'postgres') await sql`vacuum (analyze) user_mcp_api_keys`.execute(db);
  else await sql`analyze user_mcp_api_keys`.execute(db);
  const counted = await db
    .selectFrom('user_mcp_api_keys')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(counted.n);
}

interface MemoryReport {
  rssBytes: number;
  heapUsedBytes: number;
  sessions: number;
}

export type ServerCommands = {
  seedKeys: (args: { userId: string; filler: number; hashes: string[] }) => Promise<number>;
  /** After a full GC (the child runs with `--expose-gc`). */
  memory: (args: undefined) => MemoryReport;
};
export type ServerProcess = Child<ServerCommands, { url: string }>;

export function startServerProcess(
  database: DatabaseKind,
  options: ChildOptions = {},
): Promise<ServerProcess> {
  return startChild<ServerCommands, { url: string }>(fileURLToPath(import.meta.url), {
    ...options,
    nodeFlags: ['--expose-gc', ...(options.nodeFlags ?? [])],
    env: { BENCH_SERVER_DATABASE: database, ...options.env },
  });
}

const childDatabase = process.env.BENCH_SERVER_DATABASE;
if ((childDatabase === 'sqlite' || childDatabase === 'postgres') && process.send) {
  startChildMain(async () => {
    const server = await startTestServer({
      database: childDatabase,
      // The fake Jira sites (B4) listen on loopback, refused as provider addresses by default.
      env: { LOG_LEVEL: 'warn', PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1' },
      // B5 measures memory per SSE stream with 1,000 open on one key: above the per-key limit
      // (20), which is a defence of its own (tested in tests/server/sse-streams.test.ts).
      sseLimits: { ...defaultSseStreamLimits, perKey: 5_000, perUser: 5_000 },
    });
    const commands: ServerCommands = {
      seedKeys: ({ userId, filler, hashes }) =>
        seedKeys(server.app.database, userId, filler, hashes),
      memory: () => {
        globalThis.gc?.();
        const usage = process.memoryUsage();
        return {
          rssBytes: usage.rss,
          heapUsedBytes: usage.heapUsed,
          sessions: server.app.sseStreams.size,
        };
      },
    };
    await serveCommands(commands, { ready: { url: server.url }, cleanup: () => server.stop() });
  });
}
