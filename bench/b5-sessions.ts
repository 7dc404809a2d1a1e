import { mcpHeaders, type LoadGenerator } from './load.js';
import { atMost, compare, type BenchOptions, type BenchResult, type Figure } from './report.js';
import { median } from './stats.js';
import { residentBytes, withProcesses } from './support/child.js';
import { startServerProcess, type ServerProcess } from './support/server-child.js';
import { createBenchUser, type BenchUser } from './support/setup.js';

/**
 * B5: server memory after 4,000 `initialize` calls with one key (Streamable HTTP keeps no
 * sessions any more: the attack of issue 9, which grew the server by 180 MB, must leave it where
 * it was), and with 1,000 open SSE streams (which do hold a server each), against the same server
 * before. Each round starts a fresh server, warms it with a few calls or streams of the kind,
 * measures (after a full GC), makes the calls or opens the streams, and measures again.
 */

const plan = {
  rounds: 3,
  counts: { initialize: 4_000, sse: 1_000 },
  warmup: { initialize: 200, sse: 20 },
  budgetKB: 100,
  /** RSS after the `initialize` calls, as a multiple of before. */
  initializeGrowth: 1.1,
};
type Kind = 'initialize' | 'sse';

interface Snapshot {
  rss: number;
  heap: number;
  sessions: number;
}

async function snapshot(server: ServerProcess): Promise<Snapshot> {
  const memory = await server.call('memory', undefined);
  return { rss: residentBytes(server.pid), heap: memory.heapUsedBytes, sessions: memory.sessions };
}

async function open(
  load: LoadGenerator,
  kind: Kind,
  server: ServerProcess,
  user: BenchUser,
  count: number,
) {
  const headers = { 'x-mcp-api-key': user.apiKey };
  if (kind === 'initialize')
    await load.call('initializeCalls', {
      url: `${server.ready.url}/mcp`,
      headers: mcpHeaders(headers),
      count,
    });
  else
    await load.call('openSseStreams', {
      url: `${server.ready.url}/sse`,
      headers: { ...headers, accept: 'text/event-stream' },
      count,
    });
}

async function measureRound(
  load: LoadGenerator,
  kind: Kind,
  options: BenchOptions,
): Promise<{ idle: Snapshot; loaded: Snapshot }> {
  return withProcesses(async (own) => {
    const server = own(await startServerProcess('sqlite', options.measured(`b5-server-${kind}`)));
    try {
      const user = await createBenchUser(server.ready.url);
      await open(load, kind, server, user, plan.warmup[kind]);
      const idle = await snapshot(server);
      await open(load, kind, server, user, plan.counts[kind]);
      const loaded = await snapshot(server);
      const expected = kind === 'sse' ? plan.counts.sse : 0;
      if (loaded.sessions - idle.sessions !== expected)
        throw new Error(
          `${kind}: ${loaded.sessions - idle.sessions} streams open, expected ${expected}`,
        );
      return { idle, loaded };
    } finally {
      await load.call('closeStreams', undefined);
    }
  });
}

export async function benchSessions(
  load: LoadGenerator,
  options: BenchOptions,
): Promise<BenchResult> {
  const startedAt = performance.now();
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  const MiB = 2 ** 20;
  for (const kind of ['initialize', 'sse'] as const) {
    const rounds: { idle: Snapshot; loaded: Snapshot }[] = [];
    for (let round = 0; round < plan.rounds; round++)
      rounds.push(await measureRound(load, kind, options));
    const med = (pick: (round: { idle: Snapshot; loaded: Snapshot }) => number): number =>
      median(rounds.map(pick));
    details[kind] = rounds;
    if (kind === 'initialize') {
      const label = `after ${plan.counts.initialize.toLocaleString('en-US')} initialize calls with one key`;
      figures.push(
        compare(
          `RSS ${label}`,
          'MiB',
          ['after', med((round) => round.loaded.rss / MiB)],
          ['before', med((round) => round.idle.rss / MiB)],
          atMost(plan.initializeGrowth),
        ),
        compare(
          `heap ${label}`,
          'MiB',
          ['after', med((round) => round.loaded.heap / MiB)],
          ['before', med((round) => round.idle.heap / MiB)],
        ),
      );
      continue;
    }
    const label = `${plan.counts.sse.toLocaleString('en-US')} open SSE streams`;
    const perStream = (field: 'rss' | 'heap') =>
      med((round) => (round.loaded[field] - round.idle[field]) / 1000 / plan.counts.sse);
    figures.push(
      compare(
        `RSS with ${label}`,
        'MiB',
        ['open', med((round) => round.loaded.rss / MiB)],
        ['idle', med((round) => round.idle.rss / MiB)],
      ),
      compare(
        `heap with ${label}`,
        'MiB',
        ['open', med((round) => round.loaded.heap / MiB)],
        ['idle', med((round) => round.idle.heap / MiB)],
      ),
      compare(
        'RSS per open SSE stream',
        'kB',
        ['measured', perStream('rss')],
        ['budget', plan.budgetKB],
        atMost(1),
      ),
      compare(
        'heap per open SSE stream',
        'kB',
        ['measured', perStream('heap')],
        ['budget', plan.budgetKB],
      ),
    );
  }
  return {
    id: 'B5',
    title: 'Memory: initialize calls and open SSE streams',
    seconds: (performance.now() - startedAt) / 1000,
    figures,
    details,
  };
}
