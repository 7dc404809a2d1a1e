import { databaseKinds } from '../tests/support/databases.js';
import {
  mcpHeaders,
  measureLoad,
  toolCallBody,
  type LoadGenerator,
  type RunMetrics,
} from './load.js';
import { atLeast, compare, type BenchOptions, type BenchResult, type Figure } from './report.js';
import { alternate } from './stats.js';
import { startBareSdkServer } from './support/bare-sdk.js';
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
 * B2: authenticated `tools/call` per second on the real server against the same tool on a bare
 * SDK server with no authentication and no database (the SDK's ceiling here), on SQLite and on
 * PostgreSQL. `list_projects` asks a fake Jira that answers at once (both servers ask it);
 * `list_providers` answers from the caller's connections (the database; memory on the bare SDK).
 */

const plan = {
  rounds: 3,
  tools: ['list_projects', 'list_providers'],
  concurrencies: [1, 16, 64],
  durationMs: 1_200,
  warmupMs: 300,
};

export async function benchServer(
  load: LoadGenerator,
  options: BenchOptions,
): Promise<BenchResult> {
  const startedAt = performance.now();
  return withProcesses(async (own) => {
    const [site] = own(await startFakeJiras(1, 0)).ready;
    if (!site) throw new Error('no fake Jira');
    const bare = own(await startBareSdkServer());
    await bare.call('setJira', site);
    const bareHeaders = mcpHeaders(await openMcpSession(bare.ready.url, {}));

    const figures: Figure[] = [];
    const details: Record<string, unknown> = {};
    for (const database of databaseKinds) {
      const server = own(
        await startServerProcess(database, options.measured(`b2-server-${database}`)),
      );
      const user = await createBenchUser(server.ready.url);
      await addJiraConnection(server.ready.url, user, site, 'Jira Cloud');
      const keyHeader = { 'x-mcp-api-key': user.apiKey };
      const session = await openMcpSession(server.ready.url, keyHeader);
      const headers = mcpHeaders({ ...keyHeader, ...session });

      for (const tool of plan.tools) {
        await callToolOnce(server.ready.url, headers, tool);
        await callToolOnce(bare.ready.url, bareHeaders, tool);
        const run = (
          url: string,
          sideHeaders: Record<string, string>,
          pid: number,
          concurrency: number,
        ) =>
          measureLoad(
            load,
            {
              url: `${url}/mcp`,
              headers: sideHeaders,
              body: toolCallBody(tool),
              concurrency,
              durationMs: plan.durationMs,
              warmupMs: plan.warmupMs,
            },
            pid,
          );
        const byConcurrency: Record<number, Record<'server' | 'bare', RunMetrics>> = {};
        for (const concurrency of plan.concurrencies) {
          const result = await alternate(plan.rounds, {
            server: () => run(server.ready.url, headers, server.pid, concurrency),
            bare: () => run(bare.ready.url, bareHeaders, bare.pid, concurrency),
          });
          byConcurrency[concurrency] = result;
          figures.push(
            compare(
              `${database}: ${tool}, c=${concurrency}`,
              'calls/s',
              ['server', result.server.rps],
              ['bare SDK', result.bare.rps],
              atLeast(0.8),
            ),
          );
        }
        const busy = byConcurrency[16];
        if (busy)
          figures.push(
            compare(
              `${database}: ${tool}, server process CPU per call, c=16`,
              'µs',
              ['server', busy.server.cpuUsPerRequest],
              ['bare SDK', busy.bare.cpuUsPerRequest],
            ),
          );
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
