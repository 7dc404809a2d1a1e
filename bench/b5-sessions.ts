import { mcpHeaders, type LoadGenerator } from './load.js';
import { atMost, compare, type BenchOptions, type BenchResult, type Figure } from './report.js';
import { median } from './stats.js';
import { residentBytes, withProcesses } from './support/child.js';
import { startServerProcess, type ServerProcess } from './support/server-child.js';
import { createBenchUser, type BenchUser } from './support/setup.js';

/**
 * B5: server memory with 1,000 open Streamable HTTP sessions, and with 1,000 open SSE streams,
 * against the same server idle. Each round starts a fresh server, warms it with a few sessions
 * of the kind, measures (after a full GC), opens 1,000 more and measures again.
 */

const plan = { rounds: 3, sessions: 1_000, warmupSessions: 20, budgetKB: 100 };
type Kind = 'streamable' | 'sse';

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
  if (kind === 'streamable')
    await load.call('openSessions', {
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
      await open(load, kind, server, user, plan.warmupSessions);
      const idle = await snapshot(server);
      await open(load, kind, server, user, plan.sessions);
      const loaded = await snapshot(server);
      if (loaded.sessions - idle.sessions !== plan.sessions)
        throw new Error(
          `${kind}: ${loaded.sessions - idle.sessions} sessions open, expected ${plan.sessions}`,
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
  for (const kind of ['streamable', 'sse'] as const) {
    const rounds: { idle: Snapshot; loaded: Snapshot }[] = [];
    for (let round = 0; round < plan.rounds; round++)
      rounds.push(await measureRound(load, kind, options));
    const med = (pick: (round: { idle: Snapshot; loaded: Snapshot }) => number): number =>
      median(rounds.map(pick));
    const one = kind === 'streamable' ? 'Streamable HTTP session' : 'SSE stream';
    const label = `${plan.sessions.toLocaleString('en-US')} open ${one}s`;
    const perSession = (field: 'rss' | 'heap') =>
      med((round) => (round.loaded[field] - round.idle[field]) / 1000 / plan.sessions);
    details[kind] = rounds;
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
        `RSS per open ${one}`,
        'kB',
        ['measured', perSession('rss')],
        ['budget', plan.budgetKB],
        atMost(1),
      ),
      compare(
        `heap per open ${one}`,
        'kB',
        ['measured', perSession('heap')],
        ['budget', plan.budgetKB],
      ),
    );
  }
  return {
    id: 'B5',
    title: 'Memory per open session',
    seconds: (performance.now() - startedAt) / 1000,
    figures,
    details,
  };
}
