import { randomBytes } from 'node:crypto';
import {
  toolCallHeaders,
  measureLoad,
  toolCallBody,
  type LoadGenerator,
  type RunMetrics,
} from './load.js';
import {
  atLeast,
  atMost,
  compare,
  type BenchOptions,
  type BenchResult,
  type Figure,
} from './report.js';
import { alternate } from './stats.js';
import { withProcesses } from './support/child.js';
import { startByteRelay } from './support/byte-relay.js';
import { startFastBackend } from './support/fast-backend.js';
import { startNginx } from './support/nginx.js';
import { startProxyProcess } from './support/proxy-child.js';
import { startServerProcess } from './support/server-child.js';
import { startFakeJiras } from './support/fake-jira-child.js';
import { addJiraConnection, callToolOnce, createBenchUser } from './support/setup.js';

/**
 * B1: MCP `tools/call` round trips through the loopback proxy vs straight to the backend, with
 * nginx as the reference proxy; in front of a minimal fast backend (the proxy's own cost) and in
 * front of the real server (what an editor feels). Plus SSE time to first event.
 */

const plan = {
  latency: { rounds: 5, concurrency: 1, durationMs: 1_000, warmupMs: 200 },
  throughput: { rounds: 3, concurrency: 32, durationMs: 2_000, warmupMs: 300 },
  sse: { rounds: 5, connections: 60 },
};

interface Side {
  url: string;
  headers: Record<string, string>;
  /** The proxy process whose CPU is read (none for direct). */
  pid?: number;
}
type SideName = 'direct' | 'proxy' | 'nginx';
/** In front of the fast backend also `floor`: the least any relay on `node:net` costs. */
type Sides = Record<SideName, Side> & { floor?: Side };

function eachSide<M extends RunMetrics>(
  sides: Sides,
  run: (side: Side) => Promise<M>,
): Record<string, () => Promise<M>> {
  return Object.fromEntries(Object.entries(sides).map(([name, side]) => [name, () => run(side)]));
}

/** Where the proxy stands against the Node byte relay: what is left to gain inside Node. */
function floorFigures(
  backend: string,
  latency: Record<string, RunMetrics>,
  throughput: Record<string, RunMetrics>,
): Figure[] {
  const { direct, nginx, floor, proxy } = latency;
  if (!direct || !nginx || !floor || !proxy) return [];
  const added = (side: RunMetrics): number => side.p50Ms - direct.p50Ms;
  const cpu = (side: string): number => throughput[side]?.cpuUsPerRequest ?? Number.NaN;
  return [
    compare(
      `${backend}: added p50 latency, c=1`,
      'ms',
      ['node byte relay', added(floor)],
      ['nginx', added(nginx)],
    ),
    compare(
      `${backend}: added p50 latency, c=1`,
      'ms',
      ['proxy', added(proxy)],
      ['node byte relay', added(floor)],
    ),
    compare(
      `${backend}: throughput, c=32`,
      'calls/s',
      ['node byte relay', throughput.floor?.rps ?? Number.NaN],
      ['direct', throughput.direct?.rps ?? Number.NaN],
    ),
    compare(
      `${backend}: proxy CPU per call, c=32`,
      'µs',
      ['proxy', cpu('proxy')],
      ['node byte relay', cpu('floor')],
    ),
  ];
}

function proxyFigures(
  backend: string,
  fast: boolean,
  latency: Record<SideName, RunMetrics>,
  throughput: Record<SideName, RunMetrics>,
): Figure[] {
  const added = (side: SideName): number => latency[side].p50Ms - latency.direct.p50Ms;
  return [
    compare(
      `${backend}: p50 latency, c=1`,
      'ms',
      ['proxy', latency.proxy.p50Ms],
      ['direct', latency.direct.p50Ms],
    ),
    compare(
      `${backend}: p50 latency, c=1`,
      'ms',
      ['nginx', latency.nginx.p50Ms],
      ['direct', latency.direct.p50Ms],
    ),
    // What each proxy adds: only telling in front of the fast backend (the server's own latency
    // varies by more than a proxy adds).
    ...(fast
      ? [
          compare(
            `${backend}: added p50 latency, c=1`,
            'ms',
            ['proxy', added('proxy')],
            ['nginx', added('nginx')],
            atMost(1.2),
          ),
        ]
      : []),
    compare(
      `${backend}: p99 latency, c=1`,
      'ms',
      ['proxy', latency.proxy.p99Ms],
      ['direct', latency.direct.p99Ms],
    ),
    compare(
      `${backend}: p99 latency, c=1`,
      'ms',
      ['nginx', latency.nginx.p99Ms],
      ['direct', latency.direct.p99Ms],
    ),
    compare(
      `${backend}: throughput, c=32`,
      'calls/s',
      ['proxy', throughput.proxy.rps],
      ['direct', throughput.direct.rps],
      atLeast(fast ? 0.8 : 0.9),
    ),
    compare(
      `${backend}: throughput, c=32`,
      'calls/s',
      ['nginx', throughput.nginx.rps],
      ['direct', throughput.direct.rps],
    ),
    compare(
      `${backend}: proxy CPU per call, c=32`,
      'µs',
      ['proxy', throughput.proxy.cpuUsPerRequest],
      ['nginx', throughput.nginx.cpuUsPerRequest],
    ),
  ];
}

export async function benchProxy(load: LoadGenerator, options: BenchOptions): Promise<BenchResult> {
  const startedAt = performance.now();
  return withProcesses(async (own) => {
    const server = own(await startServerProcess('sqlite', options.measured('b1-server')));
    const fastBackend = own(await startFastBackend());
    const [site] = own(await startFakeJiras(1, 0)).ready;
    if (!site) throw new Error('no fake Jira');
    const user = await createBenchUser(server.ready.url);
    // list_providers answers from the database: the real server's own cost, no provider call.
    await addJiraConnection(server.ready.url, user, site, 'Jira Cloud');
    const keyHeader = { 'x-mcp-api-key': user.apiKey };
    // The server is stateless: each call is one 2026-07-28 request, no session.
    const body = toolCallBody('list_providers', {}, 'modern');
    const callHeaders = (extra: Record<string, string>) =>
      toolCallHeaders('list_providers', 'modern', extra);
    const localToken = randomBytes(32).toString('base64url');

    const figures: Figure[] = [];
    const details: Record<string, unknown> = {};
    const backends = [
      { name: 'fast backend', url: fastBackend.ready.url, fast: true },
      { name: 'real server', url: server.ready.url, fast: false },
    ];
    const sseSides: Partial<Record<SideName, Side>> = {};
    for (const backend of backends) {
      const proxy = own(
        await startProxyProcess(
          backend.url,
          options.measured(`b1-proxy-${backend.fast ? 'fast' : 'real'}`),
        ),
      );
      await proxy.call('setCredentials', { apiKey: user.apiKey, localToken });
      const nginx = own(await startNginx(backend.url));
      const sides: Sides = {
        direct: { url: backend.url, headers: callHeaders(keyHeader) },
        proxy: {
          url: proxy.ready.url,
          headers: callHeaders({ authorization: `Bearer ${localToken}` }),
          pid: proxy.pid,
        },
        nginx: {
          url: nginx.url,
          headers: callHeaders(keyHeader),
          pid: nginx.pid,
        },
      };
      if (backend.fast) {
        const floor = own(await startByteRelay(backend.url, options.measured('b1-byte-relay')));
        sides.floor = { url: floor.ready.url, headers: callHeaders(keyHeader), pid: floor.pid };
      } else {
        for (const side of Object.values(sides))
          await callToolOnce(side.url, side.headers, 'list_providers', {}, 'modern');
        Object.assign(sseSides, sides);
      }
      const run = (side: Side, step: typeof plan.latency) =>
        measureLoad(
          load,
          { url: `${side.url}/mcp`, headers: side.headers, body, ...step },
          side.pid,
        );
      const latency = await alternate(
        plan.latency.rounds,
        eachSide(sides, (side) => run(side, plan.latency)),
      );
      const throughput = await alternate(
        plan.throughput.rounds,
        eachSide(sides, (side) => run(side, plan.throughput)),
      );
      figures.push(
        ...proxyFigures(backend.name, backend.fast, latency, throughput),
        ...floorFigures(backend.name, latency, throughput),
      );
      details[backend.name] = { latency, throughput };
    }

    // SSE: GET /sse on a new connection until `event: endpoint`, through each side of the real server.
    const sse = await alternate(plan.sse.rounds, {
      direct: () => firstEvents(load, sseSides.direct, { 'x-mcp-api-key': user.apiKey }),
      proxy: () => firstEvents(load, sseSides.proxy, { authorization: `Bearer ${localToken}` }),
      nginx: () => firstEvents(load, sseSides.nginx, { 'x-mcp-api-key': user.apiKey }),
    });
    details.sse = sse;
    figures.push(
      compare(
        'SSE time to first event, p50',
        'ms',
        ['proxy', sse.proxy.p50Ms],
        ['direct', sse.direct.p50Ms],
      ),
      compare(
        'SSE time to first event, p50',
        'ms',
        ['nginx', sse.nginx.p50Ms],
        ['direct', sse.direct.p50Ms],
      ),
      compare(
        'SSE time to first event, p99',
        'ms',
        ['proxy', sse.proxy.p99Ms],
        ['direct', sse.direct.p99Ms],
      ),
    );
    return {
      id: 'B1',
      title: 'Loopback proxy overhead',
      seconds: (performance.now() - startedAt) / 1000,
      figures,
      details,
    };
  });
}

async function firstEvents(
  load: LoadGenerator,
  side: Side | undefined,
  headers: Record<string, string>,
): Promise<{ p50Ms: number; p99Ms: number }> {
  if (!side) throw new Error('no side to measure');
  const result = await load.call('sseFirstEvent', {
    url: `${side.url}/sse`,
    headers: { accept: 'text/event-stream', ...headers },
    count: plan.sse.connections,
  });
  return { p50Ms: result.p50Ms, p99Ms: result.p99Ms };
}
