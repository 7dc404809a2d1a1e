import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { percentile } from './stats.js';
import {
  processTreeCpuSeconds,
  serveCommands,
  startChild,
  startChildMain,
  type Child,
} from './support/child.js';

/**
 * The load generator: a separate process (so that it never shares an event loop with what it
 * measures) driving HTTP/1.1 over `node:http` keep-alive connections to 127.0.0.1. Every run is
 * bounded by a duration and a request cap; every request by a 30 s timeout.
 */

export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** `@ID@` is replaced by a unique number per request (JSON-RPC ids must not collide). */
  body?: string;
  concurrency: number;
  /** Measured time; requests started during the warm-up before it are not counted. */
  durationMs: number;
  warmupMs?: number;
  maxRequests?: number;
  /** Any other status counts as an error (default 200). */
  expectStatus?: number;
  /** Sends header `name` with each of `values` in turn (e.g. many keys). */
  rotateHeader?: { name: string; values: string[] };
}

export interface LoadResult {
  /** Requests started in the measured window (all of them completed). */
  requests: number;
  /** With the warm-up's. */
  totalRequests: number;
  errors: number;
  firstError: string | null;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

/** `count` sessions or streams opened one after another. */
export interface RepeatSpec {
  url: string;
  headers?: Record<string, string>;
  count: number;
}

const requestTimeoutMs = 30_000;
const idPlaceholder = '@ID@';

/** Load goes to this machine only. */
function loopbackUrl(raw: string): URL {
  const url = new URL(raw);
  if (url.hostname !== '127.0.0.1') throw new Error(`refusing to load ${url.host}: 127.0.0.1 only`);
  return url;
}

/** Set by `finishRun`: the background run started by `startRun` sends no more requests. */
let backgroundStop = false;
let backgroundRun: Promise<LoadResult> | undefined;

function runLoad(spec: LoadSpec, stopRequested: () => boolean = () => false): Promise<LoadResult> {
  const url = loopbackUrl(spec.url);
  const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const [bodyHead, bodyTail] = spec.body?.split(idPlaceholder) ?? [];
  const expectStatus = spec.expectStatus ?? 200;
  const start = performance.now();
  const measureFrom = start + (spec.warmupMs ?? 0);
  const stopAt = measureFrom + spec.durationMs;
  const maxRequests = spec.maxRequests ?? Number.MAX_SAFE_INTEGER;
  const latencies: number[] = [];
  let nextId = 1;
  let started = 0;
  let completed = 0;
  let errors = 0;
  let firstError: string | null = null;
  let lastEnd = measureFrom;
  const rotation = spec.rotateHeader;
  let rotationIndex = 0;

  return new Promise((resolve) => {
    let active = spec.concurrency;
    const finish = (): void => {
      agent.destroy();
      const sorted = Float64Array.from(latencies).sort();
      const seconds = (lastEnd - measureFrom) / 1000;
      resolve({
        requests: latencies.length,
        totalRequests: completed,
        errors,
        firstError,
        rps: seconds > 0 ? latencies.length / seconds : 0,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
      });
    };
    const next = (): void => {
      const sentAt = performance.now();
      if (sentAt >= stopAt || started >= maxRequests || stopRequested()) {
        if (--active === 0) finish();
        return;
      }
      const measured = sentAt >= measureFrom;
      if (measured) started++;
      const body =
        bodyHead === undefined ? undefined : bodyHead + String(nextId++) + (bodyTail ?? '');
      let settled = false;
      const done = (error: string | null): void => {
        // A socket error after the response began may report the same request twice.
        if (settled) return;
        settled = true;
        const endedAt = performance.now();
        completed++;
        if (error !== null) {
          errors++;
          firstError ??= error;
        }
        if (measured) {
          latencies.push(endedAt - sentAt);
          lastEnd = Math.max(lastEnd, endedAt);
        }
        next();
      };
      let headers = spec.headers;
      if (body !== undefined)
        headers = { ...headers, 'content-length': String(Buffer.byteLength(body)) };
      if (rotation)
        headers = {
          ...headers,
          [rotation.name]: rotation.values[rotationIndex++ % rotation.values.length] ?? '',
        };
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method: spec.method ?? (body === undefined ? 'GET' : 'POST'),
          headers,
          timeout: requestTimeoutMs,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status !== expectStatus) {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              done(`${status} ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`),
            );
            return;
          }
          res.on('data', () => undefined);
          res.on('end', () => done(null));
          res.on('error', (error) => done(error.message));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (error) => done(error.message));
      req.end(body);
    };
    for (let i = 0; i < spec.concurrency; i++) next();
  });
}

/** Opens a GET on a fresh connection and resolves when `marker` has arrived (10 s at most). */
function openUntil(
  url: URL,
  headers: Record<string, string> | undefined,
  marker: string,
): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent: false,
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        headers,
      },
      (res) => {
        let text = '';
        const onData = (chunk: Buffer): void => {
          text += chunk.toString('utf8');
          if (!text.includes(marker)) return;
          res.off('data', onData);
          clearTimeout(timer);
          resolve({ req, res });
        };
        res.on('data', onData);
        res.on('end', () => reject(new Error(`stream ended before ${marker} (${res.statusCode})`)));
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no ${marker} within 10 s`)), 10_000);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end();
  });
}

/** Time from opening a connection to the first SSE `event: endpoint`, `count` times in a row. */
async function sseFirstEvent(spec: RepeatSpec): Promise<LoadResult> {
  const url = loopbackUrl(spec.url);
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < spec.count; i++) {
    const t0 = performance.now();
    const { req } = await openUntil(url, spec.headers, 'event: endpoint');
    latencies.push(performance.now() - t0);
    req.destroy();
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: latencies.length,
    totalRequests: latencies.length,
    errors: 0,
    firstError: null,
    rps: latencies.length / ((performance.now() - started) / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

const heldStreams: ClientRequest[] = [];

/** Opens `count` SSE streams (one connection each) and holds them until `closeStreams`. */
async function openSseStreams(spec: RepeatSpec): Promise<number> {
  const url = loopbackUrl(spec.url);
  for (let i = 0; i < spec.count; i++) {
    const { req, res } = await openUntil(url, spec.headers, 'event: endpoint');
    res.on('data', () => undefined); // keep-alive comments
    req.on('error', () => undefined);
    heldStreams.push(req);
  }
  return heldStreams.length;
}

function closeStreams(): number {
  const count = heldStreams.length;
  for (const req of heldStreams.splice(0)) req.destroy();
  return count;
}

/** POSTs JSON on a keep-alive connection; resolves with status, headers and body text. */
function postJson(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ status: number; sessionId: string | undefined; text: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        method: 'POST',
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: { ...headers, 'content-length': Buffer.byteLength(payload) },
        timeout: requestTimeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const sessionId = res.headers['mcp-session-id'];
          resolve({
            status: res.statusCode ?? 0,
            sessionId: typeof sessionId === 'string' ? sessionId : undefined,
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * `count` 2025-era `initialize` requests in a row on one keep-alive connection, each answered
 * by a stateless server (200, no `mcp-session-id`): what once left a session behind per call.
 */
async function initializeCalls(spec: RepeatSpec): Promise<number> {
  const url = loopbackUrl(spec.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const headers = mcpHeaders({ 'mcp-protocol-version': legacyRevision, ...spec.headers });
  try {
    for (let i = 0; i < spec.count; i++) {
      const init = await postJson(agent, url, headers, initializeRequest(i + 1));
      if (init.status !== 200)
        throw new Error(`initialize failed: ${init.status} ${init.text.slice(0, 200)}`);
      if (init.sessionId !== undefined)
        throw new Error('initialize answered with a session id: the server keeps sessions');
    }
    return spec.count;
  } finally {
    agent.destroy();
  }
}

/** The headers every Streamable HTTP request carries. */
export function mcpHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...extra,
  };
}

export function initializeRequest(id: number): unknown {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'pm-mcp-bench', version: '1.0.0' },
    },
  };
}

/** The MCP revisions a benchmark request speaks. */
export const modernRevision = '2026-07-28';
export const legacyRevision = '2025-06-18';

/**
 * How a `tools/call` is sent: `modern` (2026-07-28: the `params._meta` envelope and the
 * `Mcp-Method`/`Mcp-Name` headers, one self-contained POST), `legacy` (a 2025-era POST with no
 * session, served statelessly), `session` (2025-era inside a session: the SDK v1 reference).
 */
export type McpEra = 'modern' | 'legacy' | 'session';

const modernEnvelope = {
  'io.modelcontextprotocol/protocolVersion': modernRevision,
  'io.modelcontextprotocol/clientInfo': { name: 'pm-mcp-bench', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** A `tools/call` message of the era. */
export function toolCallMessage(
  name: string,
  args: Record<string, unknown> = {},
  era: McpEra = 'session',
  id = 1,
): unknown {
  return {
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args, ...(era === 'modern' ? { _meta: modernEnvelope } : {}) },
  };
}

/** The headers of a `tools/call` of the era (plus `extra`: the key, a session id). */
export function toolCallHeaders(
  name: string,
  era: McpEra,
  extra: Record<string, string> = {},
): Record<string, string> {
  if (era === 'modern')
    return mcpHeaders({
      'mcp-protocol-version': modernRevision,
      'mcp-method': 'tools/call',
      'mcp-name': name,
      ...extra,
    });
  if (era === 'legacy') return mcpHeaders({ 'mcp-protocol-version': legacyRevision, ...extra });
  return mcpHeaders(extra);
}

/** A `tools/call` body for `LoadSpec.body` (its id is filled in per request). */
export function toolCallBody(
  name: string,
  args: Record<string, unknown> = {},
  era: McpEra = 'session',
): string {
  return JSON.stringify(toolCallMessage(name, args, era, 0)).replace(
    '"id":0',
    `"id":${idPlaceholder}`,
  );
}

const loadCommands = {
  run: (spec: LoadSpec) => runLoad(spec),
  sseFirstEvent: (spec: RepeatSpec) => sseFirstEvent(spec),
  openSseStreams: (spec: RepeatSpec) => openSseStreams(spec),
  closeStreams: (_args: undefined) => closeStreams(),
  initializeCalls: (spec: RepeatSpec) => initializeCalls(spec),
  /** Starts a run that lasts until `finishRun` (its duration is an upper bound). */
  startRun: (spec: LoadSpec) => {
    if (backgroundRun) throw new Error('a background run is already going');
    backgroundStop = false;
    backgroundRun = runLoad(spec, () => backgroundStop);
    return true;
  },
  finishRun: async (_args: undefined) => {
    if (!backgroundRun) throw new Error('no background run');
    backgroundStop = true;
    try {
      return await backgroundRun;
    } finally {
      backgroundRun = undefined;
    }
  },
};
export type LoadCommands = typeof loadCommands;
export type LoadGenerator = Child<LoadCommands, undefined>;

/** Starts the load-generator process. */
export function startLoadGenerator(): Promise<LoadGenerator> {
  return startChild<LoadCommands>(fileURLToPath(import.meta.url), {
    env: { BENCH_LOAD_GENERATOR: '1' },
  });
}

/** What one measured run reports; `cpuUsPerRequest` when a process to watch was given. */
export type RunMetrics = { rps: number; p50Ms: number; p99Ms: number; cpuUsPerRequest: number };

/**
 * One measured run. With `cpuOf`, also the CPU that process (and its children) spent per request,
 * read from /proc around the run. Fails when more than 1% of the requests failed.
 */
export async function measureLoad(
  load: LoadGenerator,
  spec: LoadSpec,
  cpuOf?: number,
): Promise<RunMetrics> {
  const cpuBefore = cpuOf === undefined ? 0 : processTreeCpuSeconds(cpuOf);
  const result = await load.call('run', spec);
  const cpuSeconds = cpuOf === undefined ? Number.NaN : processTreeCpuSeconds(cpuOf) - cpuBefore;
  if (result.requests === 0 || result.errors > result.requests / 100) {
    throw new Error(
      `${spec.url}: ${result.errors} of ${result.requests} requests failed; first: ${result.firstError ?? ''}`,
    );
  }
  return {
    rps: result.rps,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    // Includes the warm-up's requests' CPU: counted over every request the run made.
    cpuUsPerRequest: (cpuSeconds * 1e6) / result.totalRequests,
  };
}

if (process.env.BENCH_LOAD_GENERATOR === '1' && process.send) {
  startChildMain(() =>
    serveCommands(loadCommands, {
      cleanup: () => {
        closeStreams();
        return Promise.resolve();
      },
    }),
  );
}
