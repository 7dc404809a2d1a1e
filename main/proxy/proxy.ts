import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { ProxyStatus as ContractProxyStatus } from '../../preload/contract.js';
import { DesktopError } from '../errors.js';
import { MAX_HEAD_BYTES, type RequestHead } from './http1.js';
import {
  ClientConnection,
  type Decision,
  type ProxyRefusalReason,
  type RelayContext,
  type Refusal,
} from './relay.js';
import { UpstreamPool, type UpstreamTarget } from './upstream-pool.js';

export type { ProxyRefusalReason } from './relay.js';

/**
 * The loopback MCP proxy (SPEC §4.4). Editors talk to `http://127.0.0.1:<port>/mcp` with the
 * per-install local token; the proxy checks Host, Origin, path and token before anything leaves
 * the machine, swaps the local token for the MCP key and streams both ways.
 *
 * Every editor message crosses this code, so it is a byte relay rather than a `node:http`
 * server plus client (which cost ~4× the CPU per request): request and response heads are parsed
 * strictly (`http1.ts`) and rewritten, bodies are forwarded chunk by chunk as they arrive, with
 * their framing unchanged (`relay.ts`), over keep-alive upstream connections
 * (`upstream-pool.ts`). A request is normally one read and one write on each side. This file
 * decides what is forwarded and keeps the counters. Nothing is logged on success.
 */

/** Synchronous, in-memory getters: read on every request, so a rotated key is used at once. */
export interface ProxyCredentials {
  /** This machine's MCP key; `undefined` when signed out. */
  apiKey(): string | undefined;
  /** The token editors present as `Authorization: Bearer …`; `undefined` when none is set. */
  localToken(): string | undefined;
}

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
const CREDENTIAL_QUERY_PARAMS: ReadonlySet<string> = new Set(['api_key', 'user_id']);
/** A query that might name a credential parameter (also percent-encoded), so it is parsed. */
const MAYBE_CREDENTIAL_QUERY = /api|user|%/i;
/** Header values must not be able to end a header line early. */
const SAFE_HEADER_VALUE = /^[\x21-\x7e]+$/;
/** An idle editor connection (no exchange under way) is closed after this long. */
const CLIENT_IDLE_TIMEOUT_MS = 5 * 60_000;
/** Idle connections are looked for this often (a sweep, not a per-socket timer that every read
 * and write would have to push back). */
const CLIENT_SWEEP_INTERVAL_MS = 30_000;

/** A per-install local token: 256 bits from the CSPRNG, base64url (43 characters). */
export function generateLocalToken(): string {
  return randomBytes(32).toString('base64url');
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/** A complete JSON response `{"error","message"}` as bytes. */
function jsonResponse(
  status: number,
  body: { error: string; message: string },
  extraHeaders = '',
  close = false,
): Buffer {
  const json = Buffer.from(JSON.stringify(body));
  const head =
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
    `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${json.length}\r\n` +
    `Cache-Control: no-store\r\n${extraHeaders}${close ? 'Connection: close\r\n' : ''}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), json]);
}

function refusal(
  status: number,
  reason: ProxyRefusalReason,
  error: string,
  message: string,
  extraHeaders = '',
): Refusal {
  return {
    status,
    reason,
    keepOpen: jsonResponse(status, { error, message }, extraHeaders),
    thenClose: jsonResponse(status, { error, message }, extraHeaders, true),
  };
}

/** The refusals are built once; answering one is a single write. */
function buildRefusals(displayUrl: string): Record<ProxyRefusalReason, Refusal> {
  return {
    malformed_request: refusal(400, 'malformed_request', 'bad_request', 'Malformed HTTP request.'),
    unsupported_version: refusal(
      505,
      'unsupported_version',
      'http_version_not_supported',
      'The PM MCP proxy speaks HTTP/1.1.',
    ),
    head_too_large: refusal(
      431,
      'head_too_large',
      'request_header_fields_too_large',
      `Request head larger than ${MAX_HEAD_BYTES} bytes.`,
    ),
    connect_method: refusal(
      405,
      'connect_method',
      'method_not_allowed',
      'CONNECT is not supported: this is not an open proxy.',
      'Allow: GET, POST, DELETE\r\n',
    ),
    absolute_form: refusal(
      400,
      'absolute_form',
      'absolute_form_refused',
      'Only origin-form request targets (/mcp, /sse, /messages) are accepted: this is not an open proxy.',
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
      'WWW-Authenticate: Bearer\r\n',
    ),
    signed_out: refusal(
      503,
      'signed_out',
      'not_signed_in',
      `PM MCP is signed out, so the proxy has no key for ${displayUrl}. Sign in with the PM MCP app or \`pm-mcp login\`.`,
    ),
  };
}

function describeNetworkError(error: Error | undefined): string {
  if (!error) return 'the server closed the connection without answering';
  switch ((error as Error & { code?: string }).code) {
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

/** The token after `Bearer ` with surrounding spaces and tabs removed. */
function trimmedToken(authorization: string): string {
  let start = 7;
  let end = authorization.length;
  while (
    start < end &&
    (authorization.charCodeAt(start) === 32 || authorization.charCodeAt(start) === 9)
  )
    start++;
  while (
    end > start &&
    (authorization.charCodeAt(end - 1) === 32 || authorization.charCodeAt(end - 1) === 9)
  )
    end--;
  return authorization.slice(start, end);
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

interface Upstream extends UpstreamTarget {
  hostHeader: string;
  basePath: string;
  displayUrl: string;
}

function parseUpstream(upstreamBaseUrl: string): Upstream {
  let url: URL;
  try {
    url = new URL(upstreamBaseUrl);
  } catch {
    // Neither the text nor the parser's error (which holds it) is kept: a mistyped URL may
    // still carry a password.
    throw new DesktopError('usage', 'The server URL is not a valid URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new DesktopError('usage', `The server URL must start with http:// or https://.`);
  if (url.username || url.password)
    throw new DesktopError('usage', 'The server URL must not contain a user name or password.');
  const secure = url.protocol === 'https:';
  const basePath = url.pathname.replace(/\/+$/, '');
  return {
    secure,
    // URL keeps IPv6 literals bracketed; net.connect wants them bare.
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : secure ? 443 : 80,
    hostHeader: url.host,
    basePath,
    displayUrl: `${url.origin}${basePath}`,
  };
}

export function createLoopbackProxy(options: LoopbackProxyOptions): LoopbackProxy {
  const { credentials, logger } = options;
  const upstream = parseUpstream(options.upstreamBaseUrl);
  const refusals = buildRefusals(upstream.displayUrl);
  const unauthorizedListeners = new Set<(event: UpstreamUnauthorizedEvent) => void>();
  const keyRejectedResponse = jsonResponse(
    401,
    {
      error: 'key_rejected',
      message: `The PM MCP server at ${upstream.displayUrl} rejected this machine's key (revoked or expired). Open the PM MCP app to get a new key.`,
    },
    'WWW-Authenticate: Bearer error="invalid_token"\r\n',
  );

  let server: Server | undefined;
  let pool: UpstreamPool | undefined;
  const clients = new Set<ClientConnection>();
  let sweeper: NodeJS.Timeout | undefined;
  let boundPort = options.port;
  let allowedHostIp = '';
  let allowedHostName = '';

  const counters = {
    requests: 0,
    lastRequestAt: 0,
    lastUpstreamError: null as string | null,
    upstreamUnauthorizedAt: 0,
  };

  // The expected token's bytes, re-encoded only when the getter returns a different token, and
  // a buffer of the same length the presented token is written into: a request costs one
  // constant-time comparison, no hashing and no allocation.
  let cachedToken: string | undefined;
  let expectedTokenBytes: Buffer = Buffer.alloc(0);
  let presentedTokenBytes: Buffer = Buffer.alloc(0);
  // The last key checked to be safe in a header line, and the header lines that carry it.
  let checkedKey: string | undefined;
  let trailingHeaders = '';

  function localTokenMatches(authorization: string | undefined): boolean {
    if (authorization === undefined) return false;
    const expected = credentials.localToken();
    if (!expected) return false;
    if (expected !== cachedToken) {
      cachedToken = expected;
      expectedTokenBytes = Buffer.from(expected, 'latin1');
      presentedTokenBytes = Buffer.alloc(expectedTokenBytes.length);
    }
    if (authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ')
      return false;
    const presented = trimmedToken(authorization);
    // Only the length can differ in time, and the token's length is public (43 characters);
    // equal lengths are compared in constant time. Header values are latin1 (one byte each).
    if (presented.length !== expectedTokenBytes.length) return false;
    presentedTokenBytes.write(presented, 0, 'latin1');
    return timingSafeEqual(presentedTokenBytes, expectedTokenBytes);
  }

  function currentTrailingHeaders(): string | undefined {
    const key = credentials.apiKey();
    if (!key) return undefined;
    if (key !== checkedKey) {
      if (!SAFE_HEADER_VALUE.test(key)) return undefined;
      checkedKey = key;
      trailingHeaders = `Host: ${upstream.hostHeader}\r\nX-MCP-API-Key: ${key}\r\n\r\n`;
    }
    return trailingHeaders;
  }

  function hostAllowed(head: RequestHead): boolean {
    if (head.hostCount !== 1) return false;
    const host = head.host as string;
    return (
      host === allowedHostIp || host === allowedHostName || host.toLowerCase() === allowedHostName
    );
  }

  /** The checks of SPEC §4.4, in order, before anything is forwarded. */
  function decide(head: RequestHead): Decision {
    if (head.method === 'CONNECT') return refusals.connect_method;
    const target = head.target;
    if (target.charCodeAt(0) !== 47 /* '/' */) return refusals.absolute_form;
    if (!hostAllowed(head)) return refusals.bad_host;
    if (head.hasOrigin) return refusals.origin_present;
    const queryStart = target.indexOf('?');
    const path = queryStart === -1 ? target : target.slice(0, queryStart);
    if (!FORWARDED_PATHS.has(path)) return refusals.unknown_path;
    if (!localTokenMatches(head.authorization)) return refusals.bad_local_token;
    const headers = currentTrailingHeaders();
    if (headers === undefined) return refusals.signed_out;

    counters.requests++;
    counters.lastRequestAt = Date.now();
    const forwardedTarget =
      queryStart === -1 ? target : withoutCredentialParams(path, target.slice(queryStart + 1));
    return {
      requestLine: `${head.method} ${upstream.basePath}${forwardedTarget} HTTP/1.1\r\n`,
      trailingHeaders: headers,
    };
  }

  function notifyKeyRejected(): void {
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
  }

  function upstreamFailure(message: string): Buffer {
    counters.lastUpstreamError = message;
    logger?.({ type: 'upstream_unreachable', message });
    return jsonResponse(502, { error: 'upstream_unreachable', message });
  }

  function relayContext(activePool: UpstreamPool): RelayContext {
    return {
      pool: activePool,
      decide,
      refusal: (reason) => refusals[reason],
      refused: (answer) => {
        logger?.({ type: 'request_refused', status: answer.status, reason: answer.reason });
      },
      upstreamAnswered: (status) => {
        if (status === 401) {
          notifyKeyRejected();
          return false;
        }
        if (status < 300) {
          counters.lastUpstreamError = null;
          counters.upstreamUnauthorizedAt = 0;
        }
        return true;
      },
      keyRejectedResponse,
      upstreamFailed: (error) =>
        upstreamFailure(
          `PM MCP server at ${upstream.displayUrl} is unreachable: ${describeNetworkError(error)}`,
        ),
      upstreamMalformed: () =>
        upstreamFailure(`PM MCP server at ${upstream.displayUrl} sent a malformed response`),
    };
  }

  function toIso(ms: number): string | null {
    return ms === 0 ? null : new Date(ms).toISOString();
  }

  return {
    async start() {
      if (server) return { port: boundPort, address: LOOPBACK };
      const activePool = new UpstreamPool(upstream);
      const context = relayContext(activePool);
      const candidate = createServer({ noDelay: true }, (socket) => {
        const connection = new ClientConnection(socket, context);
        clients.add(connection);
        socket.once('close', () => clients.delete(connection));
      });
      try {
        await new Promise<void>((resolve, reject) => {
          candidate.once('error', reject);
          candidate.listen({ port: options.port, host: LOOPBACK, exclusive: true }, () => {
            candidate.off('error', reject);
            resolve();
          });
        });
      } catch (caught) {
        activePool.destroy();
        candidate.close();
        const error = caught as Error & { code?: string };
        if (error.code === 'EADDRINUSE')
          throw new DesktopError(
            'port_in_use',
            `Port ${options.port} on 127.0.0.1 is already in use by another program. Choose another proxy port (Settings, or \`pm-mcp proxy --port N\`).`,
            { cause: error },
          );
        throw new DesktopError(
          'port_in_use',
          `The PM MCP proxy could not listen on 127.0.0.1:${options.port}: ${error.message}`,
          { cause: error },
        );
      }
      const bound = candidate.address();
      if (bound === null || typeof bound === 'string') throw new Error('proxy has no TCP address');
      boundPort = bound.port;
      allowedHostIp = `${LOOPBACK}:${boundPort}`;
      allowedHostName = `localhost:${boundPort}`;
      server = candidate;
      pool = activePool;
      sweeper = setInterval(() => {
        const before = Date.now() - CLIENT_IDLE_TIMEOUT_MS;
        for (const connection of clients)
          if (connection.idleSinceBefore(before)) connection.socket.destroy();
      }, CLIENT_SWEEP_INTERVAL_MS);
      sweeper.unref();
      logger?.({ type: 'listening', port: boundPort });
      return { port: boundPort, address: bound.address };
    },

    async stop() {
      const running = server;
      if (!running) return;
      server = undefined;
      const closed = new Promise<void>((resolve) => running.close(() => resolve()));
      // Open event streams and idle keep-alive connections would otherwise hold close() open.
      clearInterval(sweeper);
      for (const connection of clients) connection.socket.destroy();
      clients.clear();
      pool?.destroy();
      pool = undefined;
      await closed;
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
