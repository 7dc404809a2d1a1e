import { randomBytes } from 'node:crypto';
import {
  startServerProcess as startCompiledServer,
  type ServerProcess as CompiledServer,
} from '../tests/support/cluster.js';
import { startNginx, type NginxProcess } from '../tests/support/nginx.js';
import { createPostgresSchema, postgresUrl } from '../tests/support/databases.js';
import { createKey, registerAccount, request, type TestAccount } from '../tests/support/http.js';
import { ensureServerBuild } from '../tests/support/server-build.js';
import {
  measureLoad,
  toolCallBody,
  toolCallHeaders,
  type LoadGenerator,
  type LoadResult,
} from './load.js';
import { atLeast, atMost, compare, type BenchResult, type Figure } from './report.js';
import { alternate, percentile } from './stats.js';
import { startFakeJiras } from './support/fake-jira-child.js';
import { addJiraConnection, callToolOnce } from './support/setup.js';

/**
 * B7: scale-out. Three compiled server processes (`npm run build:server`) on one PostgreSQL
 * schema behind nginx (round robin without stickiness, deploy/nginx/pm-mcp-proxy.conf), as
 * SPEC §3.9 deploys them:
 * - revocation propagation: a key that instances B and C have just accepted (so it sits in their
 *   key-lookup caches) is revoked through instance A; B and C are polled back to back until both
 *   refuse it. Timed from A's answer to the revocation (the moment the user is told it is done).
 * - throughput at c=16 (modern `list_providers`) through nginx to the three against one instance
 *   direct, alternated: on two cores nothing may be lost to the fan-out.
 * - a rolling restart of all three under c=16 through nginx (SIGTERM one, start it again on its
 *   port and wait for `/ready`, then the next): failed calls.
 */

const plan = {
  revocations: 50,
  /** No refusal within this long fails the benchmark. */
  propagationTimeoutMs: 10_000,
  budgetMs: 100,
  rounds: 3,
  concurrency: 16,
  durationMs: 2_000,
  warmupMs: 300,
  /** Between restarts: nginx takes a restarted instance back after its `fail_timeout`. */
  settleMs: 2_000,
};

const refused = async (url: string, apiKey: string): Promise<boolean> => {
  const response = await fetch(new URL('/api/users/me', url), {
    headers: { 'x-mcp-api-key': apiKey },
  });
  await response.arrayBuffer();
  return response.status !== 200;
};

/** Milliseconds until `url` refuses `apiKey`, polling back to back from `since`. */
async function timeUntilRefused(url: string, apiKey: string, since: number): Promise<number> {
  for (;;) {
    if (await refused(url, apiKey)) return performance.now() - since;
    if (performance.now() - since > plan.propagationTimeoutMs)
      throw new Error(`${url} still accepts a key revoked ${plan.propagationTimeoutMs} ms ago`);
  }
}

async function revocationPropagation(
  instances: readonly CompiledServer[],
  account: TestAccount,
): Promise<number[]> {
  const [a, ...others] = instances;
  if (!a) throw new Error('no instances');
  const session = { authorization: `Bearer ${account.accessToken}` };
  const times: number[] = [];
  for (let i = 0; i < plan.revocations; i++) {
    const key = await createKey(a.url, account, { name: `b7-${i}` });
    for (const instance of others)
      if (await refused(instance.url, key.api_key))
        throw new Error(`${instance.url} refused a fresh key`);
    const revoke = await request(a.url, 'DELETE', `/api/users/me/mcp-keys/${key.id}`, {
      headers: session,
    });
    if (revoke.status !== 204) throw new Error(`revoking failed: ${revoke.status}`);
    const answeredAt = performance.now();
    const each = await Promise.all(
      others.map((instance) => timeUntilRefused(instance.url, key.api_key, answeredAt)),
    );
    times.push(Math.max(...each));
  }
  return times;
}

export async function benchScaleOut(load: LoadGenerator): Promise<BenchResult> {
  const startedAt = performance.now();
  await ensureServerBuild();
  const schema = await createPostgresSchema();
  const env = {
    DATABASE_URL: `${postgresUrl}?options=${encodeURIComponent(`-c search_path=${schema.schema}`)}`,
    PM_MCP_SECRET_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
    PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1',
  };
  const jiras = await startFakeJiras(1, 0);
  let instances: CompiledServer[] = [];
  let nginx: NginxProcess | undefined;
  try {
    // All three at once on the empty schema, as the cluster test starts them.
    instances = await Promise.all([0, 1, 2].map(() => startCompiledServer(env)));
    nginx = await startNginx(instances.map((instance) => instance.port));
    const direct = instances[0];
    if (!direct) throw new Error('no instances');
    const account = await registerAccount(nginx.url, 'B7 Bench');
    const key = await createKey(nginx.url, account, { name: 'b7-load' });
    const [site] = jiras.ready;
    if (!site) throw new Error('no fake Jira');
    await addJiraConnection(nginx.url, { account, apiKey: key.api_key }, site, 'Jira Cloud');
    const headers = toolCallHeaders('list_providers', 'modern', { 'x-mcp-api-key': key.api_key });
    const body = toolCallBody('list_providers', {}, 'modern');
    for (const url of [direct.url, nginx.url])
      await callToolOnce(url, headers, 'list_providers', {}, 'modern');

    const propagation = await revocationPropagation(instances, account);
    const sorted = Float64Array.from(propagation).sort();

    const balancerUrl = nginx.url;
    const run = (url: string) =>
      measureLoad(load, {
        url: `${url}/mcp`,
        headers,
        body,
        concurrency: plan.concurrency,
        durationMs: plan.durationMs,
        warmupMs: plan.warmupMs,
      });
    const throughput = await alternate(plan.rounds, {
      nginx: () => run(balancerUrl),
      direct: () => run(direct.url),
    });

    await load.call('startRun', {
      url: `${balancerUrl}/mcp`,
      headers,
      body,
      concurrency: plan.concurrency,
      durationMs: 600_000,
    });
    let restart: LoadResult;
    const restartTimes: number[] = [];
    try {
      await new Promise((resolve) => setTimeout(resolve, plan.settleMs));
      for (const [index, instance] of instances.entries()) {
        const began = performance.now();
        await instance.stop('SIGTERM');
        instances[index] = await startCompiledServer(env, { port: instance.port });
        restartTimes.push(performance.now() - began);
        await new Promise((resolve) => setTimeout(resolve, plan.settleMs));
      }
    } finally {
      restart = await load.call('finishRun', undefined);
    }

    const figures: Figure[] = [
      compare(
        `revocation through A until B and C refuse, p50 (${plan.revocations} revocations)`,
        'ms',
        ['measured', percentile(sorted, 50)],
        ['budget', plan.budgetMs],
      ),
      compare(
        `revocation through A until B and C refuse, p99 (${plan.revocations} revocations)`,
        'ms',
        ['measured', percentile(sorted, 99)],
        ['budget', plan.budgetMs],
        atMost(1),
      ),
      compare(
        `modern list_providers, c=${plan.concurrency}`,
        'calls/s',
        ['3 behind nginx', throughput.nginx.rps],
        ['1 direct', throughput.direct.rps],
        atLeast(0.8),
      ),
      compare(
        `modern list_providers p50, c=${plan.concurrency}`,
        'ms',
        ['3 behind nginx', throughput.nginx.p50Ms],
        ['1 direct', throughput.direct.p50Ms],
      ),
      compare(
        `failed calls during a rolling restart of all three, c=${plan.concurrency}`,
        'calls',
        ['failed', restart.errors],
        ['made', restart.totalRequests],
        atMost(0),
      ),
    ];
    return {
      id: 'B7',
      title: 'Scale-out: three instances behind nginx',
      seconds: (performance.now() - startedAt) / 1000,
      figures,
      details: {
        propagationMs: propagation,
        throughput,
        rollingRestart: { ...restart, restartMs: restartTimes },
      },
    };
  } finally {
    await nginx?.stop().catch(() => undefined);
    await Promise.all(instances.map((instance) => instance.stop('SIGTERM').catch(() => null)));
    await schema.drop().catch(() => undefined);
    await jiras.stop();
  }
}
