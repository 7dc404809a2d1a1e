import { measureLoad, toolCallBody, toolCallHeaders, type LoadGenerator } from './load.js';
import { atMost, compare, type BenchOptions, type BenchResult } from './report.js';
import { alternate } from './stats.js';
import { withProcesses } from './support/child.js';
import { startFakeJiras } from './support/fake-jira-child.js';
import { startServerProcess } from './support/server-child.js';
import { addJiraConnection, callToolOnce, createBenchUser } from './support/setup.js';

/**
 * B4: `list_projects` for a user with 5 Jira connections, each answering in 100 ms, against a
 * user with one such connection. Fanned out in parallel it should cost about one provider's
 * latency, not five.
 */

const plan = { rounds: 3, providers: 5, latencyMs: 100, durationMs: 2_000, warmupMs: 300 };

export async function benchFanOut(
  load: LoadGenerator,
  options: BenchOptions,
): Promise<BenchResult> {
  const startedAt = performance.now();
  return withProcesses(async (own) => {
    const sites = own(await startFakeJiras(plan.providers, plan.latencyMs)).ready;
    const server = own(await startServerProcess('sqlite', options.measured('b4-server')));
    const url = server.ready.url;
    const callerWith = async (connections: number): Promise<Record<string, string>> => {
      const user = await createBenchUser(url);
      for (const [index, site] of sites.slice(0, connections).entries())
        await addJiraConnection(url, user, site, `Jira ${index + 1}`);
      const headers = toolCallHeaders('list_projects', 'modern', { 'x-mcp-api-key': user.apiKey });
      const text = await callToolOnce(url, headers, 'list_projects', {}, 'modern');
      for (const index of Array.from({ length: connections }, (_, i) => i))
        if (!text.includes(`S${index}P001`))
          throw new Error(`list_projects is missing site ${index}'s projects:\n${text}`);
      return headers;
    };
    const one = await callerWith(1);
    const five = await callerWith(plan.providers);
    const run = (headers: Record<string, string>) =>
      measureLoad(load, {
        url: `${url}/mcp`,
        headers,
        body: toolCallBody('list_projects', {}, 'modern'),
        concurrency: 1,
        durationMs: plan.durationMs,
        warmupMs: plan.warmupMs,
      });
    const result = await alternate(plan.rounds, { one: () => run(one), five: () => run(five) });
    return {
      id: 'B4',
      title: 'Provider fan-out',
      seconds: (performance.now() - startedAt) / 1000,
      figures: [
        compare(
          `list_projects p50, providers answering in ${plan.latencyMs} ms`,
          'ms',
          [`${plan.providers} providers`, result.five.p50Ms],
          ['1 provider', result.one.p50Ms],
          atMost(1.3),
        ),
        compare(
          `list_projects p99, providers answering in ${plan.latencyMs} ms`,
          'ms',
          [`${plan.providers} providers`, result.five.p99Ms],
          ['1 provider', result.one.p99Ms],
        ),
      ],
      details: result,
    };
  });
}
