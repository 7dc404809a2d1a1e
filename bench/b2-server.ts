import { databaseKinds } from '../tests/support/databases.js';
import {
  measureLoad,
  toolCallBody,
  toolCallHeaders,
  type LoadGenerator,
  type McpEra,
  type RunMetrics,
} from './load.js';
import { atLeast, compare, type BenchOptions, type BenchResult, type Figure } from './report.js';
import { alternate } from './stats.js';
import { startBareSdkServer } from './support/bare-sdk.js';
import { startBareSdkV2Server } from './support/bare-sdk-v2.js';
import { withProcesses } from './support/child.js';
import { startFakeJiras } from './support/fake-jira-child.js';
import { startServerProcess } from './support/server-child.js';
import {
  addJiraConnection,
  callToolOnce,
  createBenchUser,
  openMcpSession,
} from './support/setup.js';

/**
 * B2: authenticated `tools/call` per second on the real server against the same tool on bare SDK
 * servers with no authentication and no database, on SQLite and on PostgreSQL, the three sides
 * alternated. The baseline is SDK v2 per-request serving (`createMcpHandler`, a fresh `McpServer`
 * per request, on `node:http`), how the server itself serves `/mcp`; the SDK v1 stateful server
 * (one session reused) is the second reference. Requests are 2026-07-28 (modern) ones, each a
 * self-contained POST; 2025-era stateless requests are measured once, at c=16. `list_projects`
 * asks a fake Jira that answers at once (every side asks it); `list_providers` answers from the
 * caller's connections (the database; memory on the bare servers).
 */

const plan = {
  rounds: 3,
  tools: ['list_providers', 'list_projects'],
  concurrencies: [1, 16],
  /** The 2025-era stateless comparison: once, on SQLite, for this tool. */
  legacy: { database: 'sqlite', tool: 'list_providers', concurrency: 16 },
  durationMs: 1_200,
  warmupMs: 300,
};

type Side = 'server' | 'bareV2' | 'bareV1';

export async function benchServer(
  load: LoadGenerator,
  options: BenchOptions,
): Promise<BenchResult> {
  const startedAt = performance.now();
  return withProcesses(async (own) => {
    const [site] = own(await startFakeJiras(1, 0)).ready;
    if (!site) throw new Error('no fake Jira');
    const bareV2 = own(await startBareSdkV2Server());
    await bareV2.call('setJira', site);
    const bareV1 = own(await startBareSdkServer());
    await bareV1.call('setJira', site);
    const bareV1Session = { 'mcp-session-id': await openMcpSession(bareV1.ready.url, {}) };

    const figures: Figure[] = [];
    const details: Record<string, unknown> = {};
    for (const database of databaseKinds) {
      const server = own(
        await startServerProcess(database, options.measured(`b2-server-${database}`)),
      );
      const user = await createBenchUser(server.ready.url);
      await addJiraConnection(server.ready.url, user, site, 'Jira Cloud');
      const keyHeader = { 'x-mcp-api-key': user.apiKey };

      for (const tool of plan.tools) {
        const side = (which: Side, era: McpEra) => {
          const target =
            which === 'server'
              ? { url: server.ready.url, pid: server.pid, extra: keyHeader }
              : which === 'bareV2'
                ? { url: bareV2.ready.url, pid: bareV2.pid, extra: {} }
                : { url: bareV1.ready.url, pid: bareV1.pid, extra: bareV1Session };
          const sideEra = which === 'bareV1' ? 'session' : era;
          return {
            ...target,
            era: sideEra,
            headers: toolCallHeaders(tool, sideEra, target.extra),
            body: toolCallBody(tool, {}, sideEra),
          };
        };
        for (const which of ['server', 'bareV2', 'bareV1'] as const) {
          for (const era of ['modern', 'legacy'] as const) {
            const { url, headers } = side(which, era);
            await callToolOnce(url, headers, tool, {}, side(which, era).era);
          }
        }
        const run = (which: Side, era: McpEra, concurrency: number) => {
          const { url, pid, headers, body } = side(which, era);
          return measureLoad(
            load,
            {
              url: `${url}/mcp`,
              headers,
              body,
              concurrency,
              durationMs: plan.durationMs,
              warmupMs: plan.warmupMs,
            },
            pid,
          );
        };
        const byConcurrency: Record<string, Record<Side, RunMetrics>> = {};
        for (const concurrency of plan.concurrencies) {
          const result = await alternate(plan.rounds, {
            server: () => run('server', 'modern', concurrency),
            bareV2: () => run('bareV2', 'modern', concurrency),
            bareV1: () => run('bareV1', 'session', concurrency),
          });
          byConcurrency[`modern c=${concurrency}`] = result;
          figures.push(
            compare(
              `${database}: ${tool}, c=${concurrency}`,
              'calls/s',
              ['server', result.server.rps],
              ['bare SDK v2', result.bareV2.rps],
              atLeast(0.9),
            ),
            compare(
              `${database}: ${tool}, c=${concurrency}`,
              'calls/s',
              ['server', result.server.rps],
              ['bare SDK v1 stateful', result.bareV1.rps],
            ),
          );
          if (concurrency === 16)
            figures.push(
              compare(
                `${database}: ${tool}, server process CPU per call, c=16`,
                'µs',
                ['server', result.server.cpuUsPerRequest],
                ['bare SDK v2', result.bareV2.cpuUsPerRequest],
              ),
            );
        }
        const { legacy } = plan;
        if (database === legacy.database && tool === legacy.tool) {
          const result = await alternate(plan.rounds, {
            server: () => run('server', 'legacy', legacy.concurrency),
            bareV2: () => run('bareV2', 'legacy', legacy.concurrency),
          });
          byConcurrency[`2025-era stateless c=${legacy.concurrency}`] = result as Record<
            Side,
            RunMetrics
          >;
          figures.push(
            compare(
              `${database}: ${tool}, 2025-era stateless requests, c=${legacy.concurrency}`,
              'calls/s',
              ['server', result.server.rps],
              ['bare SDK v2', result.bareV2.rps],
              atLeast(0.9),
            ),
          );
        }
        details[`${database} ${tool}`] = byConcurrency;
      }
      await server.stop();
    }
    return {
      id: 'B2',
      title: 'Server throughput against the bare SDK',
      seconds: (performance.now() - startedAt) / 1000,
      figures,
      details,
    };
  });
}
