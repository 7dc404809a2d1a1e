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
import { databaseKinds } from '../tests/support/databases.js';

/**
 * B2: authenticated `tools/call` per second on the real server (key checked on every request,
 * the caller's connections read from the database) against the same tool on a bare SDK server
 * with no authentication and no database: the SDK's ceiling here. SQLite and PostgreSQL.
 */

const plan = { rounds: 3, concurrencies: [1, 16, 64], durationMs: 1_500, warmupMs: 300 };
const tool = 'list_providers';

export async function benchServer(
  load: LoadGenerator,
  options: BenchOptions,
): Promise<BenchResult> {
  const startedAt = performance.now();
  return withProcesses(async (own) => {
    const [site] = own(await startFakeJiras(1, 0)).ready;
    if (!site) throw new Error('no fake Jira');
    const bare = own(await startBareSdkServer());
    const bareHeaders = mcpHeaders({ 'mcp-session-id': await openMcpSession(bare.ready.url, {}) });
    await callToolOnce(bare.ready.url, bareHeaders, tool);

    const figures: Figure[] = [];
    const details: Record<string, unknown> = {};
    for (const database of databaseKinds) {
      const server = own(
        await startServerProcess(database, {
          nodeFlags: options.nodeFlags(`b2-server-${database}`),
        }),
      );
      const user = await createBenchUser(server.ready.url);
      await addJiraConnection(server.ready.url, user, site, 'Jira Cloud');
      const keyHeader = { 'x-mcp-api-key': user.apiKey };
      const sessionId = await openMcpSession(server.ready.url, keyHeader);
      const headers = mcpHeaders({ ...keyHeader, 'mcp-session-id': sessionId });
      await callToolOnce(server.ready.url, headers, tool);

      const run = (url: string, sideHeaders: Record<string, string>, concurrency: number) =>
        measureLoad(load, {
          url: `${url}/mcp`,
          headers: sideHeaders,
          body: toolCallBody(tool),
          concurrency,
          durationMs: plan.durationMs,
          warmupMs: plan.warmupMs,
        });
      const byConcurrency: Record<number, Record<'server' | 'bare', RunMetrics>> = {};
      for (const concurrency of plan.concurrencies) {
        const result = await alternate(plan.rounds, {
          server: () => run(server.ready.url, headers, concurrency),
          bare: () => run(bare.ready.url, bareHeaders, concurrency),
        });
        byConcurrency[concurrency] = result;
        figures.push(
          compare(
            `${database}: ${tool} calls/s, c=${concurrency}`,
            'calls/s',
            ['server', result.server.rps],
            ['bare SDK', result.bare.rps],
            atLeast(0.8),
          ),
        );
      }
      details[database] = byConcurrency;
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
