import { generateApiKey, hashApiKey } from '../server/keys/key-format.js';
import { databaseKinds, type DatabaseKind } from '../tests/support/databases.js';
import { measureLoad, type LoadGenerator } from './load.js';
import { compare, within, type BenchOptions, type BenchResult, type Figure } from './report.js';
import { alternate } from './stats.js';
import { withProcesses } from './support/child.js';
import { startServerProcess, type ServerProcess } from './support/server-child.js';
import { createBenchUser } from './support/setup.js';

/**
 * B3: the cost of authenticating a request with 1,000 vs 1,000,000 keys stored. Each server holds
 * `knownKeys` keys whose plaintext the load generator has (it sends them in turn, so lookups touch
 * different index pages) plus random filler rows up to the total. `GET /api/users/me` with a key.
 */

const plan = {
  rounds: 7,
  durationMs: 1_000,
  warmupMs: 200,
  stores: [1_000, 1_000_000],
  knownKeys: 999,
};

async function serverWithKeys(
  database: DatabaseKind,
  total: number,
  keys: readonly string[],
  start: () => Promise<ServerProcess>,
): Promise<{ server: ServerProcess; seedSeconds: number }> {
  const server = await start();
  const user = await createBenchUser(server.ready.url);
  const seeded = performance.now();
  const stored = await server
    .call('seedKeys', {
      userId: user.account.userId,
      filler: total - keys.length - 1, // the bench user's own key is the last one
      hashes: keys.map(hashApiKey),
    })
    .catch((error: unknown) => {
      throw new Error(`${database}: storing ${total} keys failed`, { cause: error });
    });
  if (stored !== total) throw new Error(`${database}: ${stored} keys stored, expected ${total}`);
  return { server, seedSeconds: (performance.now() - seeded) / 1000 };
}

export async function benchAuth(load: LoadGenerator, options: BenchOptions): Promise<BenchResult> {
  const startedAt = performance.now();
  const keys = Array.from({ length: plan.knownKeys }, () => generateApiKey());
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  for (const database of databaseKinds) {
    await withProcesses(async (own) => {
      const [few, many] = await Promise.all(
        plan.stores.map((total) =>
          serverWithKeys(database, total, keys, async () =>
            own(
              await startServerProcess(
                database,
                options.measured(`b3-server-${database}-${total}`),
              ),
            ),
          ),
        ),
      );
      if (!few || !many) throw new Error('servers missing');
      const run = (server: ServerProcess, concurrency: number) =>
        measureLoad(load, {
          url: `${server.ready.url}/api/users/me`,
          rotateHeader: { name: 'x-mcp-api-key', values: keys },
          concurrency,
          durationMs: plan.durationMs,
          warmupMs: plan.warmupMs,
        });
      // A first pass over every key: each one's throttled last_used_at write happens here.
      await run(few.server, 4);
      await run(many.server, 4);
      const latency = await alternate(plan.rounds, {
        few: () => run(few.server, 1),
        many: () => run(many.server, 1),
      });
      const throughput = await alternate(plan.rounds, {
        few: () => run(few.server, 16),
        many: () => run(many.server, 16),
      });
      details[database] = {
        seedSeconds: { few: few.seedSeconds, many: many.seedSeconds },
        latency,
        throughput,
      };
      figures.push(
        compare(
          `${database}: authenticated GET /api/users/me p50, c=1`,
          'ms',
          ['1M keys', latency.many.p50Ms],
          ['1k keys', latency.few.p50Ms],
          within(0.1),
        ),
        compare(
          `${database}: authenticated GET /api/users/me, c=16`,
          'req/s',
          ['1M keys', throughput.many.rps],
          ['1k keys', throughput.few.rps],
          within(0.1),
        ),
      );
    });
  }
  return {
    id: 'B3',
    title: 'Authentication with 1,000 vs 1,000,000 keys stored',
    seconds: (performance.now() - startedAt) / 1000,
    figures,
    details,
  };
}
