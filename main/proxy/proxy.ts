import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type RequestOptions,
  type Server,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { ProxyStatus as ContractProxyStatus } from '../../preload/contract.js';
import { DesktopError } from '../errors.js';

/**
 * The loopback MCP proxy (SPEC §4.4). Editors talk to `http://127.0.0.1:<port>/mcp` with the
 * per-install local token; the proxy checks Host, Origin, path and token before anything leaves
 * the machine, swaps the local token for the MCP key and streams both ways.
 *
 * The request handler is the hot path (every editor message crosses it): one pass over the raw
 * header array, no per-request allocation beyond the outgoing header array and request options,
 * keep-alive upstream sockets, `pipe` without buffering, no logging on success.
 */

/** Synchronous, in-memory getters: read on every request, so a rotated key is used at once. */
export interface ProxyCredentials {
  /** This machine's MCP key; `undefined` when signed out. */
  apiKey(): string | undefined;
  /** The token editors present as `Authorization: Bearer …`; `undefined` when none is set. */
  localToken(): string | undefined;
}

export type ProxyRefusalReason =
  | 'connect_method'
  | 'absolute_form'
  | 'bad_host'
  | 'origin_present'
  | 'unknown_path'
  | 'bad_local_token'
  | 'signed_out';

/** What the proxy reports to the app's log. Never carries a key, a token or a query string. */
export type ProxyLogEvent =
  | { type: 'listening'; port: number }
  | { type: 'stopped'; port: number }
  | { type: 'request_refused'; status: number; reason: ProxyRefusalReason }
  | { type: 'upstream_unreachable'; message: string }
  | { type: 'upstream_unauthorized'; at: string };

export interface LoopbackProxyOptions {
  /** The stable port editors are configured with; 0 picks a free one (tests). */
  port: number;
  /** The PM MCP server's base URL (`http:` or `https:`), e.g. `http://127.0.0.1:8080`. */
  upstreamBaseUrl: string;
  credentials: ProxyCredentials;
  logger?: (event: ProxyLogEvent) => void;
}

export interface ProxyStatus extends ContractProxyStatus {
  /** When the server last refused this machine's key (revoked or expired); cleared by a 2xx. */
  upstreamUnauthorizedAt: string | null;
}

export interface UpstreamUnauthorizedEvent {
  at: string;
}

export interface ProxyListening {
  port: number;
  /** The address the listening socket is bound to (always `127.0.0.1`). */
  address: string;
}

export interface LoopbackProxy {
  start(): Promise<ProxyListening>;
  stop(): Promise<void>;
  status(): ProxyStatus;
  /** Called when the server answers 401 (the app offers a new key). Returns the unsubscribe. */
  onUpstreamUnauthorized(listener: (event: UpstreamUnauthorizedEvent) => void): () => void;
}

const LOOPBACK = '127.0.0.1';
const FORWARDED_PATHS: ReadonlySet<string> = new Set(['/mcp', '/sse', '/messages']);
/** Dropped from requests: client credentials, hop-by-hop headers, identity claims, `Expect`. */
const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'authorization',
  'proxy-authorization',
  'x-mcp-api-key',
  'x-user-id',
  'cookie',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);
/** Dropped from responses: hop-by-hop headers (Node frames the body itself) and cookies. */
const DROPPED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
]);
const CREDENTIAL_QUERY_PARAMS: ReadonlySet<string> = new Set(['api_key', 'user_id']);
/** A query that might name a credential parameter (also percent-encoded), so it is parsed. */
const MAYBE_CREDENTIAL_QUERY = /api|user|%/i;
/** Free upstream sockets are closed before a typical server's keep-alive timeout (Node: 5 s). */
const UPSTREAM_FREE_SOCKET_TIMEOUT_MS = 4_000;

/** A per-install local token: 256 bits from the CSPRNG, base64url (43 characters). */
export function generateLocalToken(): string {
  return randomBytes(32).toString('base64url');
}

interface Refusal {
  status: number;
  reason: ProxyRefusalReason;
  headers: Record<string, string | number>;
  body: Buffer;
}

function refusal(
  status: number,
  reason: ProxyRefusalReason,
  error: string,
  message: string,
  extraHeaders: Record<string, string> = {},
): Refusal {
  const body = Buffer.from(JSON.stringify({ error, message }));
  return {
    status,
    reason,
    body,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
      ...extraHeaders,
    },
  };
}

/** The refusals are built once; answering one is a `writeHead` + `end`. */
function buildRefusals(displayUrl: string): Record<ProxyRefusalReason, Refusal> {
  return {
    connect_method: refusal(
      405,
      'connect_method',
      'method_not_allowed',
      'CONNECT is not supported: this is not an open proxy.',
      { Allow: 'GET, POST, DELETE' },
    ),
    absolute_form: refusal(
      400,
      'absolute_form',
      'absolute_form_refused',
      'Absolute-form request targets are not accepted: this is not an open proxy.',
    ),
    bad_host: refusal(
      403,
      'bad_host',
      'forbidden_host',
      'The Host header must be 127.0.0.1:<port> or localhost:<port>.',
    ),
    origin_present: refusal(
      403,
      'origin_present',
      'forbidden_origin',
      'Requests from web pages (with an Origin header) are not accepted by the PM MCP proxy.',
    ),
    unknown_path: refusal(
      404,
      'unknown_path',
      'not_found',
      'The PM MCP proxy forwards only /mcp, /sse and /messages.',
    ),
    bad_local_token: refusal(
      401,
      'bad_local_token',
      'invalid_local_token',
      "Missing or wrong local token: send 'Authorization: Bearer <local token>' as written by `pm-mcp configure`.",
      { 'WWW-Authenticate': 'Bearer' },
    ),
    signed_out: refusal(
      503,
      'signed_out',
      'not_signed_in',
      `PM MCP is signed out, so the proxy has no key for ${displayUrl}. Sign in with the PM MCP app or \`pm-mcp login\`.`,
    ),
  };
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function describeNetworkError(error: Error & { code?: string }): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the server running?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'network unreachable';
    default:
      return error.message;
  }
}

/** Removes `api_key` / `user_id` from a query (also percent-encoded or in other letter case). */
function withoutCredentialParams(path: string, query: string): string {
  if (!MAYBE_CREDENTIAL_QUERY.test(query)) return `${path}?${query}`;
  const params = new URLSearchParams(query);
  let changed = false;
  for (const name of [...params.keys()]) {
    if (CREDENTIAL_QUERY_PARAMS.has(name.toLowerCase())) {
      params.delete(name);
      changed = true;
    }
  }
  if (!changed) return `${path}?${query}`;
  const rest = params.toString();
  return rest ? `${path}?${rest}` : path;
}

interface Upstream {
  request: typeof httpRequest;
  agent: HttpAgent;
  hostname: string;
  port: number;
  hostHeader: string;
  basePath: string;
  displayUrl: string;
}

function parseUpstream(upstreamBaseUrl: string): Omit<Upstream, 'agent'> & { secure: boolean } {
  let url: URL;
  try {
    url = new URL(upstreamBaseUrl);
  } catch (error) {
    throw new DesktopError('usage', `The server URL "${upstreamBaseUrl}" is not a valid URL.`, {
      cause: error,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new DesktopError('usage', `The server URL must start with http:// or https://.`);
  if (url.username || url.password)
    throw new DesktopError('usage', 'The server URL must not contain a user name or password.');
  const secure = url.protocol === 'https:';
  const basePath = url.pathname.replace(/\/+$/, '');
  return {
    secure,
    request: secure ? httpsRequest : httpRequest,
    // URL keeps IPv6 literals bracketed; net.connect wants them bare.
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : secure ? 443 : 80,
    hostHeader: url.host,
    basePath,
    displayUrl: `${url.origin}${basePath}`,
  };
}

function newUpstreamAgent(secure: boolean): HttpAgent {
  // Keep-alive with no cap on concurrent sockets (SSE streams hold theirs for hours) and a
  // generous free pool so a burst at concurrency 32+ reuses connections instead of reconnecting.
  const options = {
    keepAlive: true,
    keepAliveMsecs: 10_000,
    maxSockets: Infinity,
    maxFreeSockets: 256,
    scheduling: 'lifo' as const,
    noDelay: true,
    timeout: UPSTREAM_FREE_SOCKET_TIMEOUT_MS,
  };
  return secure ? new HttpsAgent(options) : new HttpAgent(options);
}

export function createLoopbackProxy(options: LoopbackProxyOptions): LoopbackProxy {
  const { credentials, logger } = options;
  const { secure, ...upstreamTarget } = parseUpstream(options.upstreamBaseUrl);
  const upstream: Upstream = { ...upstreamTarget, agent: newUpstreamAgent(secure) };
  const refusals = buildRefusals(upstream.displayUrl);
  const unauthorizedListeners = new Set<(event: UpstreamUnauthorizedEvent) => void>();

  let server: Server | undefined;
  let boundPort = options.port;
  let allowedHostIp = '';
  let allowedHostName = '';

  const counters = {
    requests: 0,
    lastRequestAt: 0,
    lastUpstreamError: null as string | null,
    upstreamUnauthorizedAt: 0,
  };

  // The expected token's digest, recomputed only when the getter returns a different token.
  let cachedToken: string | undefined;
  let cachedTokenDigest: Buffer | undefined;

  function localTokenMatches(authorization: string | undefined): boolean {
    if (authorization === undefined) return false;
    const expected = credentials.localToken();
    if (!expected) return false;
    if (expected !== cachedToken) {
      cachedToken = expected;
      cachedTokenDigest = sha256(expected);
    }
    if (authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ')
      return false;
    // Digests have a fixed length, so the comparison takes the same time whatever was sent.
    return timingSafeEqual(sha256(authorization.slice(7).trim()), cachedTokenDigest as Buffer);
  }

  function refuse(res: ServerResponse, reason: ProxyRefusalReason): void {
    const answer = refusals[reason];
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
    logger?.({ type: 'request_refused', status: answer.status, reason });
  }

  function upstreamUnreachable(res: ServerResponse, error: Error): void {
    const message = `PM MCP server at ${upstream.displayUrl} is unreachable: ${describeNetworkError(error)}`;
    counters.lastUpstreamError = message;
    logger?.({ type: 'upstream_unreachable', message });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = Buffer.from(JSON.stringify({ error: 'upstream_unreachable', message }));
    res.writeHead(502, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
    });
    res.end(body);
  }

  function upstreamRejectedKey(res: ServerResponse, upstreamRes: IncomingMessage): void {
    upstreamRes.resume();
    const now = Date.now();
    counters.upstreamUnauthorizedAt = now;
    const at = new Date(now).toISOString();
    logger?.({ type: 'upstream_unauthorized', at });
    for (const listener of unauthorizedListeners) {
      try {
        listener({ at });
      } catch {
        // A listener's failure must not break the editor's request.
      }
    }
    const body = Buffer.from(
      JSON.stringify({
        error: 'key_rejected',
        message: `The PM MCP server at ${upstream.displayUrl} rejected this machine's key (revoked or expired). Open the PM MCP app to get a new key.`,
      }),
    );
    res.writeHead(401, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
      'WWW-Authenticate': 'Bearer error="invalid_token"',
    });
    res.end(body);
  }

  function relayResponse(res: ServerResponse, upstreamRes: IncomingMessage): void {
    const status = upstreamRes.statusCode ?? 502;
    if (status === 401) {
      upstreamRejectedKey(res, upstreamRes);
      return;
    }
    if (status < 300) {
      counters.lastUpstreamError = null;
      counters.upstreamUnauthorizedAt = 0;
    }
    const raw = upstreamRes.rawHeaders;
    const headers: string[] = [];
    let eventStream = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      const lower = name.toLowerCase();
      if (DROPPED_RESPONSE_HEADERS.has(lower)) continue;
      const value = raw[i + 1] as string;
      if (lower === 'content-type' && value.startsWith('text/event-stream')) eventStream = true;
      headers.push(name, value);
    }
    upstreamRes.on('error', () => res.destroy());
    res.writeHead(status, upstreamRes.statusMessage, headers);
    // An event stream's headers go out now: clients wait for them before the first event.
    if (eventStream) res.flushHeaders();
    upstreamRes.pipe(res);
  }

  function forward(req: IncomingMessage, res: ServerResponse, path: string, headers: string[]) {
    let clientGone = false;
    const requestOptions: RequestOptions = {
      agent: upstream.agent,
      hostname: upstream.hostname,
      port: upstream.port,
      method: req.method ?? 'GET',
      path: upstream.basePath + path,
      headers,
      setHost: false,
    };
    const upstreamReq: ClientRequest = upstream.request(requestOptions, (upstreamRes) => {
      if (clientGone) {
        upstreamRes.destroy();
        return;
      }
      relayResponse(res, upstreamRes);
    });
    upstreamReq.on('error', (error) => {
      if (clientGone) return;
      upstreamUnreachable(res, error);
    });
    // The editor went away (closed a stream, cancelled): close the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) {
        clientGone = true;
        upstreamReq.destroy();
      }
    });
    return upstreamReq;
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    // Origin-form only (`/path?query`): absolute-form and asterisk-form targets are refused.
    if (url.charCodeAt(0) !== 47 /* '/' */) {
      refuse(res, 'absolute_form');
      return;
    }

    const raw = req.rawHeaders;
    const headers: string[] = [];
    let host: string | undefined;
    let hostCount = 0;
    let origin = false;
    let authorization: string | undefined;
    let hasBody = false;
    let connectionTokens: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      const value = raw[i + 1] as string;
      const lower = name.toLowerCase();
      if (DROPPED_REQUEST_HEADERS.has(lower)) {
        if (lower === 'host') {
          host = value;
          hostCount++;
        } else if (lower === 'authorization') authorization = value;
        else if (lower === 'transfer-encoding') hasBody = true;
        else if (lower === 'connection') connectionTokens = value;
        continue;
      }
      if (lower === 'origin') origin = true;
      else if (lower === 'content-length' && value !== '0') hasBody = true;
      headers.push(name, value);
    }

    if (
      hostCount !== 1 ||
      (host !== allowedHostIp &&
        host !== allowedHostName &&
        host?.toLowerCase() !== allowedHostName)
    ) {
      refuse(res, 'bad_host');
      return;
    }
    if (origin) {
      refuse(res, 'origin_present');
      return;
    }
    const queryStart = url.indexOf('?');
    const path = queryStart === -1 ? url : url.slice(0, queryStart);
    if (!FORWARDED_PATHS.has(path)) {
      refuse(res, 'unknown_path');
      return;
    }
    if (!localTokenMatches(authorization)) {
      refuse(res, 'bad_local_token');
      return;
    }
    const apiKey = credentials.apiKey();
    if (!apiKey) {
      refuse(res, 'signed_out');
      return;
    }

    // Headers the client named in `Connection` are hop-by-hop too (rare: filter only then).
    let outgoing = headers;
    if (connectionTokens !== undefined && !/^\s*(keep-alive|close)\s*$/i.test(connectionTokens)) {
      const named = new Set(connectionTokens.toLowerCase().split(/\s*,\s*/));
      outgoing = [];
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i] as string;
        if (!named.has(name.toLowerCase())) outgoing.push(name, headers[i + 1] as string);
      }
    }
    outgoing.push('Host', upstream.hostHeader, 'X-MCP-API-Key', apiKey);

    counters.requests++;
    counters.lastRequestAt = Date.now();

    const upstreamReq = forward(
      req,
      res,
      queryStart === -1 ? url : withoutCredentialParams(path, url.slice(queryStart + 1)),
      outgoing,
    );
    if (hasBody) req.pipe(upstreamReq);
    else upstreamReq.end();
  }

  function refuseConnect(_req: IncomingMessage, socket: Socket): void {
    const answer = refusals.connect_method;
    socket.on('error', () => socket.destroy());
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${answer.body.length}\r\nAllow: GET, POST, DELETE\r\nConnection: close\r\n\r\n` +
        answer.body.toString(),
    );
    logger?.({ type: 'request_refused', status: answer.status, reason: 'connect_method' });
  }

  function toIso(ms: number): string | null {
    return ms === 0 ? null : new Date(ms).toISOString();
  }

  return {
    async start() {
      if (server) return { port: boundPort, address: LOOPBACK };
      const candidate = createServer({ noDelay: true, keepAlive: true }, handleRequest);
      candidate.on('connect', refuseConnect);
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error & { code?: string }) => {
          candidate.close();
          if (error.code === 'EADDRINUSE') {
            reject(
              new DesktopError(
                'port_in_use',
                `Port ${options.port} on 127.0.0.1 is already in use by another program. Choose another proxy port (Settings, or \`pm-mcp proxy --port N\`).`,
                { cause: error },
              ),
            );
            return;
          }
          reject(
            new DesktopError(
              'port_in_use',
              `The PM MCP proxy could not listen on 127.0.0.1:${options.port}: ${error.message}`,
              { cause: error },
            ),
          );
        };
        candidate.once('error', onError);
        candidate.listen({ port: options.port, host: LOOPBACK, exclusive: true }, () => {
          candidate.off('error', onError);
          resolve();
        });
      });
      const bound = candidate.address();
      if (bound === null || typeof bound === 'string') throw new Error('proxy has no TCP address');
      boundPort = bound.port;
      allowedHostIp = `${LOOPBACK}:${boundPort}`;
      allowedHostName = `localhost:${boundPort}`;
      // stop() destroys the agent's sockets; a restarted proxy starts with a fresh pool.
      upstream.agent = newUpstreamAgent(secure);
      server = candidate;
      logger?.({ type: 'listening', port: boundPort });
      return { port: boundPort, address: bound.address };
    },

    async stop() {
      const running = server;
      if (!running) return;
      server = undefined;
      await new Promise<void>((resolve) => {
        running.close(() => resolve());
        // Open SSE streams and idle keep-alive connections would otherwise hold close() open.
        running.closeAllConnections();
      });
      upstream.agent.destroy();
      logger?.({ type: 'stopped', port: boundPort });
    },

    status() {
      return {
        running: server !== undefined,
        port: boundPort,
        requests: counters.requests,
        lastRequestAt: toIso(counters.lastRequestAt),
        lastUpstreamError: counters.lastUpstreamError,
        upstreamUnauthorizedAt: toIso(counters.upstreamUnauthorizedAt),
      };
    },

    onUpstreamUnauthorized(listener) {
      unauthorizedListeners.add(listener);
      return () => {
        unauthorizedListeners.delete(listener);
      };
    },
  };
}
