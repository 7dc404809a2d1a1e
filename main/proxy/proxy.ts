import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { ProxyStatus as ContractProxyStatus } from '../../preload/contract.js';
import { DesktopError } from '../errors.js';
import {
  ChunkedScanner,
  HttpParseError,
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from './http1.js';
import {
  UpstreamPool,
  type UpstreamConnection,
  type UpstreamHandler,
  type UpstreamTarget,
} from './upstream-pool.js';

/**
 * The loopback MCP proxy (SPEC §4.4). Editors talk to `http://127.0.0.1:<port>/mcp` with the
 * per-install local token; the proxy checks Host, Origin, path and token before anything leaves
 * the machine, swaps the local token for the MCP key and streams both ways.
 *
 * Every editor message crosses this code, so it is a byte relay rather than a `node:http`
 * server plus client (which cost ~4× the CPU per request): request and response heads are parsed
 * strictly (`http1.ts`) and rewritten, bodies are forwarded chunk by chunk as they arrive, with
 * their framing unchanged, over keep-alive upstream connections (`upstream-pool.ts`). A request
 * is normally one read and one write on each side. Nothing is logged on success.
 */

/** Synchronous, in-memory getters: read on every request, so a rotated key is used at once. */
export interface ProxyCredentials {
  /** This machine's MCP key; `undefined` when signed out. */
  apiKey(): string | undefined;
  /** The token editors present as `Authorization: Bearer …`; `undefined` when none is set. */
  localToken(): string | undefined;
}

export type ProxyRefusalReason =
  | 'malformed_request'
  | 'unsupported_version'
  | 'head_too_large'
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
/**
 * Not forwarded: client credentials, identity claims and hop-by-hop headers. (Host,
 * Authorization, Connection, Expect and the framing headers are handled by the parser.)
 */
const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'proxy-authorization',
  'x-mcp-api-key',
  'x-user-id',
  'cookie',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
]);
/** Not relayed back: hop-by-hop headers and cookies (the editor never sends ours back anyway). */
const DROPPED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'proxy-connection',
  'te',
  'upgrade',
  'set-cookie',
]);
const CREDENTIAL_QUERY_PARAMS: ReadonlySet<string> = new Set(['api_key', 'user_id']);
/** A query that might name a credential parameter (also percent-encoded), so it is parsed. */
const MAYBE_CREDENTIAL_QUERY = /api|user|%/i;
/** Header values must not be able to end a header line early. */
const SAFE_HEADER_VALUE = /^[\x21-\x7e]+$/;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
/** Pipelined bytes held while a response is under way, before reading from the editor pauses. */
const MAX_PENDING_BYTES = 1024 * 1024;
/** An idle editor connection (no exchange under way) is closed after this long. */
const CLIENT_IDLE_TIMEOUT_MS = 5 * 60_000;
/** Idle connections are looked for this often (a sweep, not a per-socket timer that every read
 * and write would have to push back). */
const CLIENT_SWEEP_INTERVAL_MS = 30_000;

/** A per-install local token: 256 bits from the CSPRNG, base64url (43 characters). */
export function generateLocalToken(): string {
  return randomBytes(32).toString('base64url');
}

interface Refusal {
  status: number;
  reason: ProxyRefusalReason;
  /** The whole response, for a connection that stays open. */
  keepOpen: Buffer;
  /** The same with `Connection: close`. */
  thenClose: Buffer;
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

function sha256(value: string): Buffer {
  return hash('sha256', value, 'buffer');
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

/** What a parsed request turns into: a refusal, or the head to send upstream. */
type Decision = Refusal | { upstreamHead: string };

/** The proxy's side of the relay, as the connection objects below see it. */
interface RelayContext {
  pool: UpstreamPool;
  decide(head: RequestHead): Decision;
  refusal(reason: ProxyRefusalReason): Refusal;
  refused(refusal: Refusal): void;
  /** Called with each upstream response status; true when the response is relayed as is. */
  upstreamAnswered(status: number): boolean;
  /** The 401 sent instead of the server's when it refused the key. */
  keyRejectedResponse: Buffer;
  upstreamFailed(error: Error | undefined): Buffer;
  upstreamMalformed(): Buffer;
}

type BodyFraming = { kind: 'none' } | { kind: 'length'; remaining: number } | ChunkedScanner;

function requestFraming(head: RequestHead): BodyFraming {
  if (head.chunked) return new ChunkedScanner();
  if (head.contentLength > 0) return { kind: 'length', remaining: head.contentLength };
  return { kind: 'none' };
}

/**
 * One editor connection: parses its requests in order and runs one exchange at a time. An editor
 * that closes its side is gone (as for `node:http`): the exchange under way is abandoned and
 * its upstream connection closed, which ends the server's stream.
 */
class ClientConnection {
  /** Bytes read but not yet consumed: a partial head, or the next pipelined request. */
  private pending: Buffer | undefined;
  /** How far `pending` was already searched for the end of a head. */
  private searchedTo = 0;
  private exchange: Exchange | undefined;
  private endAfterExchange = false;
  private readingPaused = false;
  /** Set while `processPending` runs, so a request finished inside it does not recurse. */
  private processing = false;
  closed = false;
  /** When the last exchange ended (or the connection opened). */
  idleSince = Date.now();

  constructor(
    readonly socket: Socket,
    private readonly relay: RelayContext,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.exchange?.onClientDrain());
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => this.onClose());
  }

  /** Whether the connection has had no exchange under way since `before`. */
  idleSinceBefore(before: number): boolean {
    return this.exchange === undefined && this.idleSince < before;
  }

  write(bytes: Buffer): boolean {
    return this.socket.write(bytes);
  }

  /** Bytes after the current request's end: the next request, handled once this one is done. */
  keepForLater(bytes: Buffer): void {
    this.pending = this.pending ? Buffer.concat([bytes, this.pending]) : bytes;
    this.searchedTo = 0;
  }

  /** The current exchange is over (response sent, request consumed). */
  exchangeDone(closeAfter: boolean): void {
    this.exchange = undefined;
    this.idleSince = Date.now();
    if (closeAfter || this.endAfterExchange) {
      this.closeAfterWrites();
      return;
    }
    if (this.readingPaused) {
      this.readingPaused = false;
      this.socket.resume();
    }
    if (!this.processing) this.processPending();
  }

  closeAfterWrites(): void {
    this.closed = true;
    this.pending = undefined;
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const exchange = this.exchange;
    if (exchange?.wantsRequestBytes) {
      exchange.onRequestBytes(chunk);
      return;
    }
    if (this.pending) {
      this.pending = Buffer.concat([this.pending, chunk]);
    } else {
      this.pending = chunk;
      this.searchedTo = 0;
    }
    if (exchange) {
      if (this.pending.length > MAX_PENDING_BYTES) {
        this.readingPaused = true;
        this.socket.pause();
      }
      return;
    }
    this.processPending();
  }

  private processPending(): void {
    this.processing = true;
    try {
      this.processPendingRequests();
    } finally {
      this.processing = false;
    }
  }

  private processPendingRequests(): void {
    while (!this.exchange && !this.closed && this.pending) {
      const buffer = this.pending;
      const headEnd = buffer.indexOf(HEAD_END, Math.max(0, this.searchedTo - 3));
      if (headEnd === -1) {
        if (buffer.length > MAX_HEAD_BYTES)
          this.refuseAndClose(this.relay.refusal('head_too_large'));
        else this.searchedTo = buffer.length;
        return;
      }
      if (headEnd > MAX_HEAD_BYTES) {
        this.refuseAndClose(this.relay.refusal('head_too_large'));
        return;
      }
      const bodyStart = headEnd + 4;
      this.pending = bodyStart < buffer.length ? buffer.subarray(bodyStart) : undefined;
      this.searchedTo = 0;
      let head: RequestHead;
      try {
        head = parseRequestHead(buffer.toString('latin1', 0, headEnd), DROPPED_REQUEST_HEADERS);
      } catch (error) {
        const version = error instanceof HttpParseError && error.kind === 'version';
        this.refuseAndClose(
          this.relay.refusal(version ? 'unsupported_version' : 'malformed_request'),
        );
        return;
      }
      this.startExchange(head);
    }
  }

  private refuseAndClose(refusal: Refusal): void {
    this.relay.refused(refusal);
    this.write(refusal.thenClose);
    this.closeAfterWrites();
  }

  private startExchange(head: RequestHead): void {
    const decision = this.relay.decide(head);
    if (head.close) this.endAfterExchange = true;
    const body = this.pending;
    this.pending = undefined;
    if ('reason' in decision) {
      this.relay.refused(decision);
      if (decision.reason === 'connect_method') {
        this.write(decision.thenClose);
        this.closeAfterWrites();
        return;
      }
      this.write(this.endAfterExchange ? decision.thenClose : decision.keepOpen);
      // The refused request's body is read and dropped, so the connection stays usable.
      const exchange = new Exchange(this, this.relay, head, undefined);
      this.exchange = exchange;
      exchange.discardRequest(body);
      return;
    }
    if (head.expectContinue) this.write(CONTINUE);
    const exchange = new Exchange(this, this.relay, head, decision.upstreamHead);
    this.exchange = exchange;
    exchange.send(body);
  }

  private onClose(): void {
    this.closed = true;
    this.pending = undefined;
    this.exchange?.onClientGone();
    this.exchange = undefined;
  }
}

/** One request and its response, between an editor connection and an upstream connection. */
class Exchange implements UpstreamHandler {
  /** Still reading the request body from the editor (to forward or to drop). */
  wantsRequestBytes = false;
  private requestFraming: BodyFraming;
  private discarding = false;
  private upstream: UpstreamConnection | undefined;
  /** The whole request as first written, kept for one retry on a reused connection. */
  private replay: Buffer | undefined;
  private responseBuffer: Buffer | undefined;
  private response: ResponseHead | undefined;
  private responseFraming: BodyFraming | 'until-close' | undefined;
  /** The response head for the editor, sent together with the first body bytes. */
  private pendingClientHead: string | undefined;
  /** Reading from the editor is paused until the server has taken the body written so far. */
  private clientPaused = false;
  private responseStarted = false;
  private responseDone = false;
  /** The server's answer is not relayed (a 401 replaced by ours): its body is read and dropped. */
  private swallowResponse = false;
  private upstreamReusable = true;
  private closeClientAfter = false;
  private readonly isHead: boolean;

  constructor(
    private readonly client: ClientConnection,
    private readonly relay: RelayContext,
    head: RequestHead,
    private readonly upstreamHead: string | undefined,
  ) {
    const framing = requestFraming(head);
    this.requestFraming = framing;
    this.wantsRequestBytes = framing instanceof ChunkedScanner || framing.kind !== 'none';
    this.isHead = head.method === 'HEAD';
    this.closeClientAfter = head.close;
  }

  /** Forwards the head and whatever part of the body has arrived with it. */
  send(initialBody: Buffer | undefined): void {
    const head = this.upstreamHead as string;
    const bodyPart = initialBody ? this.takeRequestBytes(initialBody) : undefined;
    if (bodyPart === null) return;
    const headLength = head.length; // latin1: one byte per character
    const payload = Buffer.allocUnsafe(headLength + (bodyPart?.length ?? 0));
    payload.write(head, 0, 'latin1');
    if (bodyPart) bodyPart.copy(payload, headLength);
    this.upstream = this.relay.pool.acquire(this);
    if (!this.wantsRequestBytes && this.upstream.reused) this.replay = payload;
    if (!this.upstream.socket.write(payload) && this.wantsRequestBytes) this.pauseClient();
  }

  /** A refused request: its body (if any) is read and dropped. */
  discardRequest(initialBody: Buffer | undefined): void {
    this.discarding = true;
    this.responseDone = true;
    if (initialBody) {
      if (this.takeRequestBytes(initialBody) === null) return;
    }
    if (!this.wantsRequestBytes) this.finish();
  }

  onRequestBytes(chunk: Buffer): void {
    const part = this.takeRequestBytes(chunk);
    if (part === null) return;
    if (this.discarding) {
      if (!this.wantsRequestBytes) this.finish();
      return;
    }
    if (part && this.upstream && !this.upstream.socket.write(part) && this.wantsRequestBytes)
      this.pauseClient();
    if (!this.wantsRequestBytes && this.responseDone) this.finish();
  }

  /**
   * The part of `chunk` that belongs to this request's body (anything after it is the next
   * request); null when the framing is broken (the connection is then closed).
   */
  private takeRequestBytes(chunk: Buffer): Buffer | undefined | null {
    const framing = this.requestFraming;
    let end: number;
    if (framing instanceof ChunkedScanner) {
      try {
        end = framing.scan(chunk, 0);
      } catch {
        this.requestBroken();
        return null;
      }
      this.wantsRequestBytes = end === -1;
      if (end === -1) return chunk;
    } else if (framing.kind === 'length') {
      if (chunk.length < framing.remaining) {
        framing.remaining -= chunk.length;
        this.wantsRequestBytes = true;
        return chunk;
      }
      end = framing.remaining;
      framing.remaining = 0;
      this.wantsRequestBytes = false;
    } else {
      end = 0;
      this.wantsRequestBytes = false;
    }
    if (end < chunk.length) this.client.keepForLater(chunk.subarray(end));
    return end === 0 ? undefined : end === chunk.length ? chunk : chunk.subarray(0, end);
  }

  private requestBroken(): void {
    this.wantsRequestBytes = false;
    this.dropUpstream();
    if (!this.responseStarted && !this.responseDone) {
      this.client.write(this.relay.refusal('malformed_request').thenClose);
    }
    this.client.closeAfterWrites();
  }

  // ---- upstream events ----

  onUpstreamData(chunk: Buffer): void {
    if (this.response === undefined) {
      this.onResponseHeadBytes(chunk);
      return;
    }
    this.relayResponseBody(chunk, 0);
  }

  private onResponseHeadBytes(chunk: Buffer): void {
    let buffer = this.responseBuffer ? Buffer.concat([this.responseBuffer, chunk]) : chunk;
    this.responseBuffer = undefined;
    for (;;) {
      const headEnd = buffer.indexOf(HEAD_END);
      if (headEnd === -1) {
        if (buffer.length > MAX_HEAD_BYTES * 4) this.upstreamBroken();
        else this.responseBuffer = buffer;
        return;
      }
      let response: ResponseHead;
      try {
        response = parseResponseHead(
          buffer.toString('latin1', 0, headEnd),
          DROPPED_RESPONSE_HEADERS,
        );
      } catch {
        this.upstreamBroken();
        return;
      }
      const bodyStart = headEnd + 4;
      if (response.status >= 100 && response.status < 200) {
        // Interim responses (we never ask for an upgrade, and answer 100-continue ourselves).
        if (response.status === 101) {
          this.upstreamBroken();
          return;
        }
        if (bodyStart >= buffer.length) return;
        buffer = buffer.subarray(bodyStart);
        continue;
      }
      this.startResponse(response, buffer, bodyStart);
      return;
    }
  }

  private startResponse(response: ResponseHead, buffer: Buffer, bodyStart: number): void {
    this.response = response;
    this.replay = undefined;
    const status = response.status;
    if (this.isHead || status === 204 || status === 304) this.responseFraming = { kind: 'none' };
    else if (response.chunked) this.responseFraming = new ChunkedScanner();
    else if (response.contentLength >= 0)
      this.responseFraming = { kind: 'length', remaining: response.contentLength };
    else this.responseFraming = 'until-close';
    if (response.close || this.responseFraming === 'until-close') this.upstreamReusable = false;
    if (this.responseFraming === 'until-close') this.closeClientAfter = true;

    if (!this.relay.upstreamAnswered(status)) {
      this.swallowResponse = true;
      this.responseStarted = true;
      this.client.write(this.relay.keyRejectedResponse);
      this.relayResponseBody(buffer, bodyStart);
      return;
    }
    const head =
      response.statusLine +
      response.forwardedLines +
      (this.closeClientAfter ? 'Connection: close\r\n\r\n' : '\r\n');
    // The head goes out at once, with whatever body came along: an event stream's client
    // waits for the head before its first event.
    this.pendingClientHead = head;
    this.relayResponseBody(buffer, bodyStart);
  }

  private flushClientHead(bodyPart: Buffer | undefined): void {
    const head = this.pendingClientHead as string;
    this.pendingClientHead = undefined;
    this.responseStarted = true;
    const out = Buffer.allocUnsafe(head.length + (bodyPart?.length ?? 0));
    out.write(head, 0, 'latin1');
    if (bodyPart) bodyPart.copy(out, head.length);
    this.writeToClient(out);
  }

  private relayResponseBody(chunk: Buffer, offset: number): void {
    const framing = this.responseFraming;
    let end: number;
    let complete: boolean;
    if (framing === 'until-close') {
      end = chunk.length;
      complete = false;
    } else if (framing instanceof ChunkedScanner) {
      try {
        end = framing.scan(chunk, offset);
      } catch {
        this.upstreamBroken();
        return;
      }
      complete = end !== -1;
      if (end === -1) end = chunk.length;
    } else if (framing?.kind === 'length') {
      end = Math.min(chunk.length, offset + framing.remaining);
      framing.remaining -= end - offset;
      complete = framing.remaining === 0;
    } else {
      end = offset;
      complete = true;
    }
    // Bytes past the response's end: the server is out of step; do not reuse the connection.
    if (end < chunk.length) this.upstreamReusable = false;
    if (!this.swallowResponse) {
      const part =
        end === offset
          ? undefined
          : offset === 0 && end === chunk.length
            ? chunk
            : chunk.subarray(offset, end);
      if (this.pendingClientHead !== undefined) this.flushClientHead(part);
      else if (part) this.writeToClient(part);
    }
    if (complete) this.responseComplete();
  }

  private writeToClient(bytes: Buffer): void {
    // A slow editor: stop reading from the server until it catches up.
    if (!this.client.write(bytes) && this.upstream) this.upstream.socket.pause();
  }

  onClientDrain(): void {
    if (this.upstream?.socket.isPaused()) this.upstream.socket.resume();
  }

  onUpstreamDrain(): void {
    this.resumeClient();
  }

  private pauseClient(): void {
    this.clientPaused = true;
    this.client.socket.pause();
  }

  private resumeClient(): void {
    if (!this.clientPaused) return;
    this.clientPaused = false;
    this.client.socket.resume();
  }

  onUpstreamEnd(): void {
    if (this.responseFraming === 'until-close') this.responseComplete();
  }

  onUpstreamClose(error: Error | undefined): void {
    this.upstream = undefined;
    if (this.responseDone) return;
    if (this.response === undefined) {
      // A reused connection the server had closed meanwhile: send the request once more.
      if (this.replay && this.responseBuffer === undefined) {
        const replay = this.replay;
        this.replay = undefined;
        this.upstream = this.relay.pool.acquire(this, true);
        this.upstream.socket.write(replay);
        return;
      }
      this.answerInstead(this.relay.upstreamFailed(error));
      return;
    }
    if (this.responseFraming === 'until-close' || this.swallowResponse) {
      this.responseComplete();
      return;
    }
    // Cut off mid-response: the editor must see a truncated response, not a complete one.
    this.responseDone = true;
    this.client.socket.destroy();
  }

  onClientGone(): void {
    this.wantsRequestBytes = false;
    this.responseDone = true;
    this.dropUpstream();
  }

  /** The server failed or misbehaved before a response could be relayed. */
  private upstreamBroken(): void {
    this.dropUpstream();
    if (this.responseStarted) {
      this.responseDone = true;
      this.client.socket.destroy();
      return;
    }
    this.answerInstead(this.relay.upstreamMalformed());
  }

  private answerInstead(response: Buffer): void {
    this.dropUpstream();
    this.client.write(response);
    this.responseStarted = true;
    this.responseDone = true;
    if (this.wantsRequestBytes) {
      // The rest of the request body is still on its way: read and drop it.
      this.discarding = true;
      this.resumeClient();
      return;
    }
    this.finish();
  }

  private dropUpstream(): void {
    const upstream = this.upstream;
    if (!upstream) return;
    this.upstream = undefined;
    upstream.handler = undefined;
    upstream.socket.destroy();
  }

  private responseComplete(): void {
    this.responseDone = true;
    const upstream = this.upstream;
    if (upstream) {
      this.upstream = undefined;
      if (this.upstreamReusable && !this.wantsRequestBytes)
        this.relay.pool.release(upstream, this.response?.keepAliveTimeoutMs);
      else {
        upstream.handler = undefined;
        upstream.socket.destroy();
      }
    }
    if (this.wantsRequestBytes) {
      // Answered before the whole request arrived: read and drop the rest.
      this.discarding = true;
      this.resumeClient();
      return;
    }
    this.finish();
  }

  private finish(): void {
    this.resumeClient();
    this.client.exchangeDone(this.closeClientAfter);
  }
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

  // The expected token's digest, recomputed only when the getter returns a different token.
  let cachedToken: string | undefined;
  let cachedTokenDigest: Buffer | undefined;
  // The last key checked to be safe in a header line.
  let checkedKey: string | undefined;

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

  function currentKey(): string | undefined {
    const key = credentials.apiKey();
    if (!key) return undefined;
    if (key !== checkedKey) {
      if (!SAFE_HEADER_VALUE.test(key)) return undefined;
      checkedKey = key;
    }
    return key;
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
    const apiKey = currentKey();
    if (apiKey === undefined) return refusals.signed_out;

    counters.requests++;
    counters.lastRequestAt = Date.now();
    const forwardedTarget =
      queryStart === -1 ? target : withoutCredentialParams(path, target.slice(queryStart + 1));
    return {
      upstreamHead:
        `${head.method} ${upstream.basePath}${forwardedTarget} HTTP/1.1\r\n` +
        `${head.forwardedLines}Host: ${upstream.hostHeader}\r\nX-MCP-API-Key: ${apiKey}\r\n\r\n`,
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
