import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { configureClient, clientConfigPath } from '../main/clients/index.js';
import { isDesktopError } from '../main/errors.js';
import { createLoopbackProxy, generateLocalToken } from '../main/proxy/proxy.js';
import { startServerProcess, type ServerProcess } from '../tests/support/cluster.js';
import { startPrivatePostgres } from '../tests/support/private-postgres.js';
import { startNginx, type NginxProcess } from '../tests/support/nginx.js';
import { createKey, registerAccount, request } from '../tests/support/http.js';
import {
  connectMcpClient,
  type McpClientLike,
  type McpTransportKind,
} from '../tests/support/mcp.js';
import { ensureServerBuild } from '../tests/support/server-build.js';
import { percentile } from './stats.js';
import { connectThroughBridge } from './support/soak-clients.js';
import { startSoakFakes } from './support/soak-fakes-child.js';

/**
 * `npm run soak` (`-- --minutes N`, default 10): the whole system under steady load with faults
 * injected on a schedule, loopback only. Three compiled server instances behind nginx on a private
 * PostgreSQL cluster and one on SQLite; 200 MCP clients of both protocol eras, over Streamable
 * HTTP, legacy SSE, the loopback proxy and the stdio bridge; fake Jira Cloud and OpenProject with
 * random latency, 429s and 503s. Prints a line per minute and the pass criteria at the end;
 * writes bench/results/soak-latest.json. See docs/RELIABILITY.md.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseMinutes(argv: string[]): number {
  const index = argv.indexOf('--minutes');
  if (index === -1) return 10;
  const value = Number(argv[index + 1]);
  if (!Number.isFinite(value) || value < 1 || value > 240) {
    console.error('--minutes takes a number from 1 to 240');
    process.exit(2);
  }
  return value;
}

const minutes = parseMinutes(process.argv.slice(2));
const durationMs = minutes * 60_000;
const scale = minutes / 10;
/** Per-client pause between calls, uniform in this range: ~67 calls/s from 200 clients. */
const THINK_MS = [2_000, 4_000] as const;
const WINDOW_MS = 60_000;
/** The first window is warm-up for the memory criterion (RSS compared from its end). */
const WARMUP_MS = Math.min(60_000, durationMs / 4);
/** Failures this long after a fault ends still count as caused by it (reconnects, retries). */
const FAULT_GRACE_MS = 15_000;
/**
 * The documented bound on a tool call (docs/TOOLS.md "Time bound", server/mcp/tools/deadline.ts):
 * it answers within the provider timeout of the server starting it. Checked on the server's side
 * (its `tool call reached its deadline` log lines: how long each such call ran, and how late its
 * deadline timer fired — a busy event loop runs every timer late, which no code can help, and is
 * taken off), plus 1 s (the 250 ms answer grace, itself a timer). What clients saw is reported
 * beside it: it adds the queueing every call meets on this machine outside the server's handler.
 */
const PROVIDER_TIMEOUT_MS = 10_000;
const HANG_BOUND_MS = PROVIDER_TIMEOUT_MS + 1_000;

const runId = randomBytes(3).toString('hex');

// ---------------------------------------------------------------- PostgreSQL, private cluster

// ---------------------------------------------------------------- measurements

function procStatus(pid: number): { rssKiB: number; fds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { rssKiB: rss, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

/** Direct children of this process whose command line names `what` (nginx's master). */
function childPids(what: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(what)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

interface CallRecord {
  at: number;
  ms: number;
  client: string;
  tool: string;
  outcome: 'ok' | 'tool_error' | 'transport_error';
  kind?: string;
  message?: string;
}

interface Fault {
  name: string;
  atMs: number;
  /** Filled in as it runs. */
  startedAt?: number;
  endedAt?: number;
  notes: string[];
  passed?: boolean;
}

// ---------------------------------------------------------------- the run

/** When the load starts (after setup); every schedule time counts from here. */
let started = Date.now();
const elapsed = () => Date.now() - started;
const calls: CallRecord[] = [];
const windows: Record<string, unknown>[] = [];
const crashes: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
let stopping = false;
/** Clients keep calling until the last fault's checks are done, also when faults ran late. */
const progress = { faultsDone: false };

const faults: Fault[] = [
  { name: 'instance SIGKILL and restart', atMs: 0.2 * durationMs, notes: [] },
  { name: 'PostgreSQL restart', atMs: 0.3 * durationMs, notes: [] },
  { name: 'Jira down (503) then hanging', atMs: 0.4 * durationMs, notes: [] },
  { name: 'server restarted under the loopback proxy', atMs: 0.6 * durationMs, notes: [] },
  { name: 'keychain daemon stopped and started', atMs: 0.7 * durationMs, notes: [] },
  { name: 'client config file corrupted', atMs: 0.8 * durationMs, notes: [] },
];
const downMs = Math.max(6_000, 30_000 * scale);
const hangMs = Math.max(15_000, 30_000 * scale);

/**
 * Whether a call ran while a fault was on (from 1 s before it started until its grace ended):
 * a call that started before the fault but was still running when it struck counts too (on this
 * machine a call can take several seconds).
 */
function inFault(call: { at: number; ms: number }): boolean {
  return faults.some(
    (fault) =>
      fault.startedAt !== undefined &&
      call.at + call.ms >= fault.startedAt - 1_000 &&
      call.at <= (fault.endedAt ?? Infinity) + FAULT_GRACE_MS,
  );
}

console.log(
  `Soak ${runId}: ${minutes} min, 200 clients, think time ${THINK_MS[0] / 1000}–${THINK_MS[1] / 1000} s; load average ${loadavg()
    .map((value) => value.toFixed(2))
    .join(', ')}`,
);
console.log('Fault schedule:');
for (const fault of faults)
  console.log(`  ${(fault.atMs / 1000).toFixed(0).padStart(4)} s  ${fault.name}`);
console.log(
  `  (Jira down ${Math.round(downMs / 1000)} s, then hanging ${Math.round(hangMs / 1000)} s)`,
);

await ensureServerBuild();
const cluster = await startPrivatePostgres({ maxConnections: 200 });
cleanups.push(() => cluster.remove());

// The fakes run in their own process (see bench/support/soak-fakes-child.ts for why).
const fakes = await startSoakFakes();
cleanups.push(() => fakes.stop());
const { jira, openProject } = fakes.ready;
const background = {
  latencyMs: 5,
  latencyJitterMs: 60,
  randomRateLimitRate: 0.02,
  randomServerErrorRate: 0.01,
};
await fakes.call('setBehaviour', { provider: 'jira', changes: background });
await fakes.call('setBehaviour', { provider: 'openproject', changes: background });

const secretKey = randomBytes(32).toString('hex');
const pgEnv = {
  DATABASE_URL: cluster.url,
  PM_MCP_SECRET_KEY: secretKey,
  PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1',
  LOG_LEVEL: 'warn',
};
const sqliteFolder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-soak-sqlite-'));
cleanups.push(() => fs.rm(sqliteFolder, { recursive: true, force: true }));
const sqliteEnv = {
  DATABASE_URL: `sqlite:${path.join(sqliteFolder, 'soak.sqlite')}`,
  PM_MCP_SECRET_KEY: secretKey,
  PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1',
  LOG_LEVEL: 'warn',
};

const instances: ServerProcess[] = await Promise.all(
  [0, 1, 2].map(() => startServerProcess(pgEnv)),
);
let sqliteServer = await startServerProcess(sqliteEnv);
const expectedExits = new Set<ServerProcess>();
const watchExit = (name: string, server: ServerProcess) => {
  void server.exited.then((code) => {
    if (!expectedExits.has(server) && !stopping)
      crashes.push(
        `${name} exited unexpectedly (code ${code}):\n${server.output.join('').slice(-2000)}`,
      );
  });
};
instances.forEach((server, index) => watchExit(`instance ${index + 1}`, server));
watchExit('sqlite instance', sqliteServer);
cleanups.push(async () => {
  stopping = true;
  await Promise.all([...instances, sqliteServer].map((server) => server.stop()));
});
const nginx: NginxProcess = await startNginx(instances.map((server) => server.port));
cleanups.push(() => nginx.stop());

interface SoakUser {
  apiKey: string;
  jiraId: string;
  openProjectId: string;
}

async function createUser(baseUrl: string, index: number): Promise<SoakUser> {
  const account = await registerAccount(baseUrl, `Soak User ${index}`);
  const key = await createKey(baseUrl, account, { name: 'soak', expires_in_days: 30 });
  const add = async (body: Record<string, unknown>) => {
    for (let attempt = 1; ; attempt++) {
      const response = await request<{ provider: { id: string } }>(
        baseUrl,
        'POST',
        '/api/users/me/providers',
        {
          headers: { authorization: `Bearer ${account.accessToken}` },
          body,
        },
      );
      if (response.status === 201) return response.body.provider.id;
      // The credential check may meet one of the fakes' random 429s or 503s.
      if (attempt >= 5)
        throw new Error(`adding a connection failed: ${response.status} ${response.text}`);
    }
  };
  const jiraId = await add({
    provider_type: 'jira',
    name: 'Team Jira',
    base_url: jira.url,
    email: jira.email,
    api_token: jira.token,
  });
  const openProjectId = await add({
    provider_type: 'openproject',
    name: 'Team OpenProject',
    base_url: openProject.url,
    api_token: openProject.token,
  });
  return { apiKey: key.api_key, jiraId, openProjectId };
}

const pgUsers: SoakUser[] = [];
for (let index = 0; index < 10; index++)
  pgUsers.push(await createUser(instances[index % 3]?.url ?? '', index));
const sqliteUsers: SoakUser[] = [];
for (let index = 0; index < 3; index++)
  sqliteUsers.push(await createUser(sqliteServer.url, 100 + index));

// The loopback proxy in front of the SQLite instance, with the first SQLite user's key.
const proxyUser = sqliteUsers[0] as SoakUser;
const localToken = generateLocalToken();
const proxyEvents: string[] = [];
const proxy = createLoopbackProxy({
  port: 0,
  upstreamBaseUrl: sqliteServer.url,
  credentials: { apiKey: () => proxyUser.apiKey, localToken: () => localToken },
  logger: (event) => {
    if (event.type === 'upstream_unreachable')
      proxyEvents.push(`${new Date().toISOString()} ${event.message}`);
  },
});
const { port: proxyPort } = await proxy.start();
cleanups.push(() => proxy.stop());
const proxyUrl = `http://127.0.0.1:${proxyPort}`;

// ---------------------------------------------------------------- clients

interface ClientSpec {
  name: string;
  via: 'nginx' | 'sqlite' | 'proxy' | 'bridge';
  kind: McpTransportKind | 'stdio';
  user: SoakUser;
}

const specs: ClientSpec[] = [];
const addClients = (
  via: ClientSpec['via'],
  kind: ClientSpec['kind'],
  count: number,
  users: SoakUser[],
) => {
  for (let index = 0; index < count; index++)
    specs.push({
      name: `${via}-${kind}-${index}`,
      via,
      kind,
      user: users[specs.length % users.length] as SoakUser,
    });
};
addClients('nginx', 'modern', 70, pgUsers);
addClients('nginx', 'streamable', 40, pgUsers);
addClients('nginx', 'sse', 30, pgUsers);
addClients('sqlite', 'modern', 15, sqliteUsers);
addClients('sqlite', 'streamable', 10, sqliteUsers);
addClients('sqlite', 'sse', 5, sqliteUsers);
addClients('proxy', 'modern', 10, [proxyUser]);
addClients('proxy', 'streamable', 10, [proxyUser]);
addClients('bridge', 'stdio', 10, [proxyUser]);

async function connect(spec: ClientSpec): Promise<McpClientLike> {
  switch (spec.via) {
    case 'nginx':
      return connectMcpClient(nginx.url, spec.kind as McpTransportKind, {
        headers: { 'x-mcp-api-key': spec.user.apiKey },
      });
    case 'sqlite':
      return connectMcpClient(sqliteServer.url, spec.kind as McpTransportKind, {
        headers: { 'x-mcp-api-key': spec.user.apiKey },
      });
    case 'proxy':
      return connectMcpClient(proxyUrl, spec.kind as McpTransportKind, {
        headers: { authorization: `Bearer ${localToken}` },
      });
    case 'bridge':
      return connectThroughBridge(`${proxyUrl}/mcp`, localToken);
  }
}

/** Acknowledged writes, by marker, checked against the fakes at the end. */
const acknowledged: {
  marker: string;
  provider: 'jira' | 'openproject';
  what: 'issue' | 'comment';
}[] = [];
let sequence = 0;

function nextCall(spec: ClientSpec): {
  tool: string;
  args: Record<string, unknown>;
  write?: (typeof acknowledged)[number];
} {
  const onJira = Math.random() < 0.5;
  const connection = onJira ? spec.user.jiraId : spec.user.openProjectId;
  const provider = onJira ? 'jira' : 'openproject';
  const issue = onJira
    ? `WEB-${1 + Math.floor(Math.random() * 5)}`
    : String(1 + Math.floor(Math.random() * 5));
  const roll = Math.random();
  if (roll < 0.25) return { tool: 'list_projects', args: {} };
  if (roll < 0.5) return { tool: 'search_issues', args: { text: 'Seeded' } };
  if (roll < 0.75) return { tool: 'get_issue', args: { id: `${connection}:${issue}` } };
  const marker = `soak-${runId}-${++sequence}`;
  if (roll < 0.88)
    return {
      tool: 'create_issue',
      args: { project_id: `${connection}:${onJira ? 'WEB' : '1'}`, title: `Soak ${marker}` },
      write: { marker, provider, what: 'issue' },
    };
  return {
    tool: 'add_comment',
    args: { id: `${connection}:${issue}`, body: `Soak comment ${marker}` },
    write: { marker, provider, what: 'comment' },
  };
}

/** An error's message and its causes' codes and messages (undici's `fetch failed` says no more). */
function withCause(error: unknown): string {
  const parts = [error instanceof Error ? error.message : String(error)];
  let cause: unknown = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
    const code = (cause as Error & { code?: unknown }).code;
    parts.push(`cause: ${typeof code === 'string' ? `${code} ` : ''}${cause.message}`);
    cause = cause.cause;
  }
  return parts.join(' | ');
}

const seenKinds = new Set<string>();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const think = () => sleep(THINK_MS[0] + Math.random() * (THINK_MS[1] - THINK_MS[0]));

async function runClient(spec: ClientSpec): Promise<void> {
  let client: McpClientLike | undefined;
  let backoff = 500;
  // Spread the connects over the first seconds.
  await sleep(Math.random() * Math.min(10_000, durationMs / 10));
  while (!stopping && (elapsed() < durationMs || !progress.faultsDone)) {
    const callStarted = Date.now();
    const call = nextCall(spec);
    try {
      client ??= await connect(spec);
      const result = await client.callTool({ name: call.tool, arguments: call.args });
      const ms = Date.now() - callStarted;
      if (result.isError === true) {
        const structured = result.structuredContent as
          { error?: { error_code?: string } } | undefined;
        const text = ((result.content ?? []) as { text?: string }[])
          .map((item) => item.text ?? '')
          .join(' ');
        const kind = structured?.error?.error_code ?? 'tool_error_without_code';
        if (!seenKinds.has(kind)) {
          seenKinds.add(kind);
          console.log(`  first tool error of kind ${kind} (${call.tool}): ${text.slice(0, 200)}`);
        }
        calls.push({
          at: callStarted,
          ms,
          client: spec.name,
          tool: call.tool,
          outcome: 'tool_error',
          kind: structured?.error?.error_code ?? 'tool_error_without_code',
          message: text.slice(0, 300),
        });
      } else {
        calls.push({ at: callStarted, ms, client: spec.name, tool: call.tool, outcome: 'ok' });
        if (call.write) acknowledged.push(call.write);
      }
      backoff = 500;
    } catch (error) {
      calls.push({
        at: callStarted,
        ms: Date.now() - callStarted,
        client: spec.name,
        tool: call.tool,
        outcome: 'transport_error',
        kind: `${spec.via}:${(error as Error).name}`,
        message: withCause(error).slice(0, 300),
      });
      // As an editor does: drop the connection and connect again after a pause.
      const broken = client;
      client = undefined;
      await broken?.close().catch(() => undefined);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 8_000);
    }
    await think();
  }
  await client?.close().catch(() => undefined);
}

// ---------------------------------------------------------------- per-minute records

const pgClient = () => new pg.Client({ connectionString: cluster.url });

async function postgresConnections(): Promise<number | null> {
  const client = pgClient();
  try {
    await client.connect();
    const result = await client.query<{ count: string }>(
      "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
    );
    return Number(result.rows[0]?.count ?? 0);
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function processes(): Record<string, { pid: number; rssKiB: number; fds: number } | null> {
  const named: [string, number | undefined][] = [
    ...instances.map((server, index): [string, number | undefined] => [
      `instance ${index + 1}`,
      server.child.pid,
    ]),
    ['sqlite instance', sqliteServer.child.pid],
    ['nginx', childPids('nginx')[0]],
    [
      'postgres',
      (() => {
        try {
          return cluster.postmasterPid();
        } catch {
          return undefined;
        }
      })(),
    ],
    ['fakes (Jira, OpenProject)', fakes.pid],
    ['soak driver (clients, proxy, bridges)', process.pid],
  ];
  const out: Record<string, { pid: number; rssKiB: number; fds: number } | null> = {};
  for (const [name, pid] of named) {
    const status = pid === undefined ? undefined : procStatus(pid);
    out[name] = pid !== undefined && status ? { pid, ...status } : null;
  }
  return out;
}

async function recordWindow(index: number, from: number, to: number): Promise<void> {
  const inWindow = calls.filter((call) => call.at - started >= from && call.at - started < to);
  const ok = inWindow
    .filter((call) => call.outcome === 'ok')
    .map((call) => call.ms)
    .sort((a, b) => a - b);
  const steady = inWindow
    .filter((call) => call.outcome === 'ok' && !inFault(call))
    .map((call) => call.ms)
    .sort((a, b) => a - b);
  const failures: Record<string, number> = {};
  for (const call of inWindow)
    if (call.outcome !== 'ok')
      failures[`${call.outcome}:${call.kind}`] =
        (failures[`${call.outcome}:${call.kind}`] ?? 0) + 1;
  const window = {
    minute: index + 1,
    calls: inWindow.length,
    ok: ok.length,
    failures,
    p50Ms: ok.length ? percentile(ok, 50) : null,
    p99Ms: ok.length ? percentile(ok, 99) : null,
    steadyP99Ms: steady.length ? percentile(steady, 99) : null,
    processes: processes(),
    driverHeapMiB: Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10,
    postgresConnections: await postgresConnections(),
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
  };
  windows.push(window);
  const rss = Object.entries(window.processes)
    .map(
      ([name, value]) =>
        `${name.split(' (')[0]} ${value ? Math.round(value.rssKiB / 1024) : '-'}M/${value?.fds ?? '-'}fd`,
    )
    .join(', ');
  console.log(
    `[min ${window.minute}] calls ${window.calls} ok ${window.ok} p50 ${window.p50Ms?.toFixed(0)} ms p99 ${window.p99Ms?.toFixed(0)} ms (steady ${window.steadyP99Ms?.toFixed(0)}) ` +
      `failures ${JSON.stringify(failures)} pg conns ${window.postgresConnections} heap ${window.driverHeapMiB} MiB\n          ${rss}`,
  );
}

// ---------------------------------------------------------------- faults

/** The server's `tool call reached its deadline` lines (warn) logged in [from, to]. */
function deadlineLogLines(
  output: string,
  from: number,
  to: number,
): { tool: string; ms: number; timerLateMs: number }[] {
  const hits: { tool: string; ms: number; timerLateMs: number }[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('tool call reached its deadline')) continue;
    try {
      const entry = JSON.parse(line) as {
        time?: string;
        tool?: string;
        ms?: number;
        timerLateMs?: number;
      };
      const at = Date.parse(entry.time ?? '');
      if (at >= from && at <= to)
        hits.push({
          tool: entry.tool ?? '?',
          ms: entry.ms ?? 0,
          timerLateMs: entry.timerLateMs ?? 0,
        });
    } catch {
      // not a log line
    }
  }
  return hits;
}

const waitUntilElapsed = async (ms: number) => {
  while (elapsed() < ms && !stopping) await sleep(Math.min(500, ms - elapsed()));
};

async function okCallsSince(
  since: number,
  filter: (call: CallRecord) => boolean,
  atLeast = 5,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      calls.filter((call) => call.at >= since && call.outcome === 'ok' && filter(call)).length >=
      atLeast
    )
      return true;
    await sleep(500);
  }
  return false;
}

async function runFault(fault: Fault, run: () => Promise<void>): Promise<void> {
  await waitUntilElapsed(fault.atMs);
  if (stopping) return;
  fault.startedAt = Date.now();
  console.log(`[${(elapsed() / 1000).toFixed(0)} s] fault: ${fault.name}`);
  try {
    await run();
  } catch (error) {
    fault.passed = false;
    fault.notes.push(`the fault itself failed: ${(error as Error).message}`);
  }
  fault.endedAt ??= Date.now();
  console.log(
    `[${(elapsed() / 1000).toFixed(0)} s] fault over: ${fault.name} — ${fault.passed ? 'ok' : 'NOT OK'}; ${fault.notes.join('; ')}`,
  );
}

const faultRuns: (() => Promise<void>)[] = [
  // One instance killed with SIGKILL and started again on its port; nginx routes around it.
  async () => {
    const fault = faults[0] as Fault;
    const victim = instances[1] as ServerProcess;
    expectedExits.add(victim);
    victim.child.kill('SIGKILL');
    await victim.exited;
    const restarted = await startServerProcess(pgEnv, { port: victim.port });
    instances[1] = restarted;
    watchExit('instance 2 (restarted)', restarted);
    fault.endedAt = Date.now();
    fault.notes.push(`restarted in ${fault.endedAt - (fault.startedAt ?? 0)} ms`);
    fault.passed = await okCallsSince(fault.endedAt, (call) => call.client.startsWith('nginx'), 20);
  },
  async () => {
    const fault = faults[1] as Fault;
    await cluster.stop();
    await sleep(2_000);
    await cluster.start();
    fault.endedAt = Date.now();
    const healthy = await Promise.all(
      instances.map(async (server) => {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          if ((await fetch(`${server.url}/health`).catch(() => undefined))?.status === 200)
            return true;
          await sleep(500);
        }
        return false;
      }),
    );
    fault.notes.push(`instances healthy again: ${healthy.filter(Boolean).length}/3`);
    fault.passed =
      healthy.every(Boolean) &&
      (await okCallsSince(fault.endedAt, (call) => call.client.startsWith('nginx'), 20));
  },
  async () => {
    const fault = faults[2] as Fault;
    await fakes.call('setBehaviour', { provider: 'jira', changes: { alwaysUnavailable: true } });
    await sleep(downMs);
    await fakes.call('setBehaviour', {
      provider: 'jira',
      changes: { alwaysUnavailable: false, hang: true },
    });
    const hangStarted = Date.now();
    await sleep(hangMs);
    await fakes.call('setBehaviour', { provider: 'jira', changes: { hang: false } });
    const ended = Date.now();
    fault.endedAt = ended;
    // Calls started while Jira hung end (as tool errors) within the bound; wait for the last.
    await sleep(HANG_BOUND_MS + 2_000);
    const deadlineHits = [...instances, sqliteServer].flatMap((server) =>
      deadlineLogLines(server.output.join(''), hangStarted, ended + HANG_BOUND_MS + 2_000),
    );
    const slowestOnServer = Math.max(0, ...deadlineHits.map((hit) => hit.ms));
    const latestTimer = Math.max(0, ...deadlineHits.map((hit) => hit.timerLateMs));
    // Past the deadline by more than its own timer ran late: the code's overrun, not the machine's.
    const worstOverrun = Math.max(0, ...deadlineHits.map((hit) => hit.ms - hit.timerLateMs));
    const overBound = deadlineHits.filter((hit) => hit.ms > HANG_BOUND_MS).length;
    const hung = calls.filter(
      (call) =>
        call.at >= hangStarted &&
        call.at < ended - 1_000 &&
        call.outcome !== 'ok' &&
        ['get_issue', 'create_issue', 'add_comment'].includes(call.tool),
    );
    const slowestSeen = Math.max(0, ...hung.map((call) => call.ms));
    // Calls answered meanwhile that did not wait on Jira (single-provider, so OpenProject).
    const answered = calls.filter(
      (call) =>
        call.at >= hangStarted &&
        call.at < ended &&
        call.outcome === 'ok' &&
        ['get_issue', 'create_issue', 'add_comment'].includes(call.tool),
    );
    const answeredMs = answered.map((call) => call.ms).sort((a, b) => a - b);
    fault.notes.push(
      `${deadlineHits.length} tool calls reached their deadline on the servers: the longest ran ${slowestOnServer} ms (${overBound} over ${HANG_BOUND_MS} ms); their deadline timers fired up to ${latestTimer} ms late (busy event loop); longest less its timer's lateness ${worstOverrun} ms`,
      `clients saw ${hung.length} failed single-provider calls, slowest ${slowestSeen} ms; ${answered.length} OpenProject single-provider calls answered meanwhile (p50 ${answeredMs.length ? percentile(answeredMs, 50).toFixed(0) : '-'} / p90 ${answeredMs.length ? percentile(answeredMs, 90).toFixed(0) : '-'} ms)`,
    );
    fault.passed = deadlineHits.length > 0 && worstOverrun <= HANG_BOUND_MS && answered.length > 0;
  },
  // The SQLite instance (behind the loopback proxy and the bridges) stopped and started again.
  async () => {
    const fault = faults[3] as Fault;
    expectedExits.add(sqliteServer);
    const stopCode = await sqliteServer.stop('SIGTERM');
    const stoppedAt = Date.now();
    fault.notes.push(
      `stopped (code ${stopCode}) in ${stoppedAt - (fault.startedAt ?? stoppedAt)} ms`,
    );
    await sleep(2_000);
    sqliteServer = await startServerProcess(sqliteEnv, { port: sqliteServer.port });
    watchExit('sqlite instance (restarted)', sqliteServer);
    fault.endedAt = Date.now();
    fault.notes.push(`ready again on port ${sqliteServer.port} in ${fault.endedAt - stoppedAt} ms`);
    const viaProxy = await okCallsSince(
      fault.endedAt,
      (call) => call.client.startsWith('proxy'),
      10,
    );
    const viaBridge = await okCallsSince(
      fault.endedAt,
      (call) => call.client.startsWith('bridge'),
      5,
    );
    // What clients of this instance saw after it was back, one example per kind.
    const afterRestart = new Map<string, string>();
    for (const call of calls)
      if (
        call.at >= fault.endedAt &&
        call.outcome !== 'ok' &&
        /^(sqlite|proxy|bridge)/.test(call.client) &&
        !afterRestart.has(call.kind ?? '')
      )
        afterRestart.set(call.kind ?? '', call.message ?? '');
    fault.notes.push(
      `proxy clients answered again: ${viaProxy}, bridge clients: ${viaBridge}; proxy reported ${proxyEvents.length} upstream failures`,
      `failures after the restart: ${[...afterRestart].map(([kind, message]) => `${kind}: ${message.slice(0, 160)}`).join(' | ') || 'none'}`,
    );
    fault.passed = viaProxy && viaBridge && proxy.status().running;
  },
  async () => {
    const fault = faults[4] as Fault;
    // Its own process: libsecret's connection is per process, and the run sets its own bus.
    const child = spawn(
      path.join(root, 'node_modules/.bin/tsx'),
      [path.join(root, 'bench/support/soak-keychain.ts')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    await new Promise((resolve) => child.once('exit', resolve));
    const line = out.trim().split('\n').at(-1) ?? '';
    let result:
      | {
          recovered: boolean;
          steps: { step: string; ok: boolean; reported?: string; ms: number }[];
        }
      | undefined;
    try {
      result = JSON.parse(line) as typeof result;
    } catch {
      fault.notes.push(`no result from the keychain run: ${err.slice(-500)}`);
    }
    if (result) {
      for (const step of result.steps)
        fault.notes.push(`${step.step}: ${step.ok ? 'ok' : step.reported} (${step.ms} ms)`);
      const stoppedStep = result.steps.find((step) => step.step.startsWith('daemon stopped'));
      fault.passed =
        result.recovered &&
        stoppedStep !== undefined &&
        (stoppedStep.ok || (stoppedStep.reported ?? '').startsWith('keychain_unavailable'));
    }
  },
  async () => {
    const fault = faults[5] as Fault;
    const home = await fs.mkdtemp(path.join(tmpdir(), 'pm-mcp-soak-home-'));
    try {
      const options = {
        environment: {
          homeDir: home,
          platform: process.platform,
          env: { XDG_CONFIG_HOME: path.join(home, '.config') },
        },
      };
      const target = { mode: 'proxy' as const, proxyUrl: `${proxyUrl}/mcp`, localToken };
      await configureClient('cursor', target, options);
      const file = clientConfigPath('cursor', options);
      const good = await fs.readFile(file, 'utf8');
      // Cut mid-write, as by a crash or an editor saving half a file.
      const corrupted = good.slice(0, Math.floor(good.length / 2));
      await fs.writeFile(file, corrupted);
      let refused = '';
      try {
        await configureClient('cursor', target, options);
      } catch (error) {
        refused = isDesktopError(error)
          ? `${error.code}: ${error.message}`
          : `unexpected: ${(error as Error).message}`;
      }
      const after = await fs.readFile(file, 'utf8');
      const untouched = after === corrupted;
      const leftovers = (await fs.readdir(path.dirname(file))).filter(
        (name) => name !== path.basename(file),
      );
      fault.notes.push(
        `refused: ${refused || 'NO (it was accepted)'}; file untouched: ${untouched}; other files: ${leftovers.join(', ') || 'none'}`,
      );
      fault.passed = refused !== '' && !refused.startsWith('unexpected') && untouched;
    } finally {
      await fs.rm(home, { recursive: true, force: true });
    }
  },
];

// ---------------------------------------------------------------- main

async function cleanup(): Promise<void> {
  stopping = true;
  for (const step of cleanups.reverse())
    await step().catch((error: unknown) => console.error('cleanup:', error));
}
process.once('SIGINT', () => {
  console.error('Interrupted: stopping everything the soak started.');
  void cleanup().then(() => process.exit(130));
});

started = Date.now();
console.log(`Setup done; load and schedule start now.`);
const clientRuns = specs.map((spec) => runClient(spec));
const faultLoop = (async () => {
  for (const [index, run] of faultRuns.entries()) await runFault(faults[index] as Fault, run);
  progress.faultsDone = true;
})();
const windowLoop = (async () => {
  // A minute at a time until the load ends (later than planned when faults ran late).
  for (let index = 0; ; index++) {
    const to = (index + 1) * WINDOW_MS;
    while (elapsed() < to && !(progress.faultsDone && elapsed() >= durationMs)) await sleep(500);
    await recordWindow(index, index * WINDOW_MS, Math.min(to, elapsed()));
    if (progress.faultsDone && elapsed() >= durationMs) break;
  }
})();
let warmupRss: Record<string, number> = {};
const warmupLoop = (async () => {
  await waitUntilElapsed(WARMUP_MS);
  warmupRss = Object.fromEntries(
    Object.entries(processes()).flatMap(([name, value]) => (value ? [[name, value.rssKiB]] : [])),
  );
})();

await Promise.all([...clientRuns, faultLoop, windowLoop, warmupLoop]);
const endRss = processes();

// ---------------------------------------------------------------- verdicts

const writeCounts = await fakes.call('countWrites', {
  runPrefix: `soak-${runId}-`,
  writes: acknowledged,
});
const lost = acknowledged
  .filter((_, index) => writeCounts.counts[index] === 0)
  .map((write) => write.marker);
const doubled = acknowledged
  .filter((_, index) => (writeCounts.counts[index] ?? 0) > 1)
  .map((write) => write.marker);
// Any write in the fakes that was never acknowledged (the client saw a failure) is reported too.
const unacknowledgedInFakes = writeCounts.unacknowledged;

/** Provider faults injected all run long (random 429s/503s): clear tool errors naming them. */
const PROVIDER_FAULT_KINDS = new Set([
  'provider_unavailable',
  'provider_timeout',
  'rate_limited',
  'provider_rate_limited',
]);
const failures = calls.filter((call) => call.outcome !== 'ok');
const unexplained = failures.filter(
  (call) =>
    !inFault(call) && !(call.outcome === 'tool_error' && PROVIDER_FAULT_KINDS.has(call.kind ?? '')),
);
function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}
const unclearToolErrors = failures.filter(
  (call) =>
    call.outcome === 'tool_error' &&
    (call.kind === 'tool_error_without_code' || (call.message ?? '').length < 20),
);

const growth: Record<string, number | null> = {};
const restarted = new Set(['instance 2', 'sqlite instance', 'postgres']);
for (const [name, value] of Object.entries(endRss)) {
  const before = warmupRss[name];
  growth[name] =
    value && before ? Math.round(((value.rssKiB - before) / before) * 1000) / 10 : null;
}
const checkedGrowth = Object.entries(growth).filter(
  ([name, value]) =>
    value !== null &&
    !restarted.has(name) &&
    !name.startsWith('soak driver') &&
    !name.startsWith('fakes'),
);
const firstWindow = windows[0] as { steadyP99Ms: number | null } | undefined;
// The last minute that had calls outside fault windows: the trailing record, taken while the
// clients wind down after the last fault, may hold a handful of calls or none.
const lastWindow = (windows as { steadyP99Ms: number | null }[]).findLast(
  (window) => window.steadyP99Ms !== null,
);
const p99Ratio =
  firstWindow?.steadyP99Ms && lastWindow?.steadyP99Ms
    ? lastWindow.steadyP99Ms / firstWindow.steadyP99Ms
    : null;

const criteria = [
  {
    criterion: 'no crash',
    passed: crashes.length === 0,
    detail: crashes.length ? crashes.join('\n') : 'none',
  },
  {
    criterion: 'no lost or doubled write',
    passed: lost.length === 0 && doubled.length === 0,
    detail: `${acknowledged.length} acknowledged writes; lost ${lost.length}, doubled ${doubled.length}; unacknowledged but present ${unacknowledgedInFakes}`,
  },
  {
    criterion: 'RSS growth after warm-up ≤ 10% (processes that ran throughout)',
    passed: checkedGrowth.every(([, value]) => (value as number) <= 10),
    detail: checkedGrowth.map(([name, value]) => `${name} ${value}%`).join(', '),
  },
  {
    criterion: 'last-minute p99 ≤ 1.5× the first (ok calls outside fault windows)',
    passed: p99Ratio !== null && p99Ratio <= 1.5,
    detail: `${firstWindow?.steadyP99Ms ?? '-'} → ${lastWindow?.steadyP99Ms ?? '-'} ms (${p99Ratio?.toFixed(2) ?? '-'}×)`,
  },
  {
    criterion: 'failures only where a fault was injected',
    passed: unexplained.length === 0,
    detail: `${failures.length} failures of ${calls.length} calls; outside any fault: ${unexplained.length}${
      unexplained.length
        ? ` ${JSON.stringify(countBy(unexplained, (call) => `${call.outcome}:${call.kind}`))}`
        : ''
    }${
      unexplained.length
        ? ` (${unexplained
            .slice(0, 5)
            .map(
              (call) =>
                `${call.client} ${call.tool} at ${((call.at - started) / 1000).toFixed(1)} s (${call.ms} ms) ${call.kind}: ${call.message}`,
            )
            .join(' | ')})`
        : ''
    }`,
  },
  {
    criterion: 'each tool failure a clear tool error',
    passed: unclearToolErrors.length === 0,
    detail: `${failures.filter((call) => call.outcome === 'tool_error').length} tool errors, ${unclearToolErrors.length} without a code or message; ${failures.filter((call) => call.outcome === 'transport_error').length} transport errors (all during faults unless listed above)`,
  },
  ...faults.map((fault) => ({
    criterion: `fault: ${fault.name}`,
    passed: fault.passed === true,
    detail: fault.notes.join('; '),
  })),
];

const failureKinds: Record<string, number> = {};
for (const call of failures)
  failureKinds[`${call.outcome}:${call.kind}`] =
    (failureKinds[`${call.outcome}:${call.kind}`] ?? 0) + 1;
const examples: Record<string, string> = {};
for (const call of failures)
  examples[`${call.outcome}:${call.kind}`] ??= `${call.tool}: ${call.message}`;

console.log('\nPass criteria:');
for (const item of criteria)
  console.log(`  ${item.passed ? 'PASS' : 'FAIL'}  ${item.criterion}: ${item.detail}`);
console.log(`\nFailures by kind: ${JSON.stringify(failureKinds, null, 2)}`);

const result = {
  runId,
  startedAt: new Date(started).toISOString(),
  minutes,
  clients: specs.length,
  thinkTimeMs: THINK_MS,
  providerBackground: background,
  loadAverageAtEnd: loadavg(),
  schedule: faults.map((fault) => ({
    name: fault.name,
    atS: Math.round(fault.atMs / 1000),
    startedS: fault.startedAt ? Math.round((fault.startedAt - started) / 1000) : null,
    endedS: fault.endedAt ? Math.round((fault.endedAt - started) / 1000) : null,
    passed: fault.passed === true,
    notes: fault.notes,
  })),
  windows,
  rssGrowthPercent: growth,
  totals: {
    calls: calls.length,
    ok: calls.length - failures.length,
    failures: failureKinds,
    examples,
  },
  writes: { acknowledged: acknowledged.length, lost, doubled, unacknowledgedInFakes },
  proxyUpstreamFailures: proxyEvents.slice(0, 20),
  unexplainedFailures: unexplained.slice(0, 100).map((call) => ({
    ...call,
    atS: Math.round((call.at - started) / 100) / 10,
  })),
  criteria,
  passed: criteria.every((item) => item.passed),
};
mkdirSync(path.join(root, 'bench/results'), { recursive: true });
writeFileSync(
  path.join(root, 'bench/results/soak-latest.json'),
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(`\n${result.passed ? 'PASSED' : 'FAILED'}; wrote bench/results/soak-latest.json`);
await cleanup();
process.exit(result.passed ? 0 : 1);
