import type { Socket } from 'node:net';
import {
  ChunkedScanner,
  HttpParseError,
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
  textOfRanges,
  type RequestHead,
  type ResponseHead,
} from './http1.js';
import type { UpstreamConnection, UpstreamHandler, UpstreamPool } from './upstream-pool.js';

/**
 * The byte relay behind the loopback proxy: one `ClientConnection` per editor connection, one
 * `Exchange` per request. Heads are parsed (`http1.ts`) and handed to the proxy's `decide`;
 * bodies are forwarded chunk by chunk with their framing unchanged, with backpressure both ways.
 * What the proxy decides (checks, counters, messages) lives in `proxy.ts`.
 */

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

/** A prepared answer to a refused request. */
export interface Refusal {
  status: number;
  reason: ProxyRefusalReason;
  /** The whole response, for a connection that stays open. */
  keepOpen: Buffer;
  /** The same with `Connection: close`. */
  thenClose: Buffer;
}

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
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
/** Pipelined bytes held while a response is under way, before reading from the editor pauses. */
const MAX_PENDING_BYTES = 1024 * 1024;

/**
 * The head to send upstream: `requestLine`, then the editor's forwarded header lines as received,
 * then `trailingHeaders` (ending with the blank line). Latin1 text: one character per byte.
 */
export interface Forward {
  requestLine: string;
  trailingHeaders: string;
}

/** What a parsed request turns into: a refusal, or what to send upstream. */
export type Decision = Refusal | Forward;

/** The proxy's side of the relay, as the connection objects see it. */
export interface RelayContext {
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
export class ClientConnection {
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

  /** Strings are latin1 text (heads): one byte per character. */
  write(bytes: Buffer | string): boolean {
    return typeof bytes === 'string'
      ? this.socket.write(bytes, 'latin1')
      : this.socket.write(bytes);
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
      // Decoded with the last header line's CRLF, so that forwarded lines are whole lines.
      const text = buffer.toString('latin1', 0, headEnd + 2);
      let head: RequestHead;
      try {
        head = parseRequestHead(text, DROPPED_REQUEST_HEADERS);
      } catch (error) {
        const version = error instanceof HttpParseError && error.kind === 'version';
        this.refuseAndClose(
          this.relay.refusal(version ? 'unsupported_version' : 'malformed_request'),
        );
        return;
      }
      this.startExchange(head, text);
    }
  }

  private refuseAndClose(refusal: Refusal): void {
    this.relay.refused(refusal);
    this.write(refusal.thenClose);
    this.closeAfterWrites();
  }

  /** `text` is the head as parsed (the forwarded lines are slices of it). */
  private startExchange(head: RequestHead, text: string): void {
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
      const exchange = new Exchange(this, this.relay, head);
      this.exchange = exchange;
      exchange.discardRequest(body);
      return;
    }
    if (head.expectContinue) this.write(CONTINUE);
    const exchange = new Exchange(this, this.relay, head);
    this.exchange = exchange;
    exchange.send(decision, head.forwardedRanges, text, body);
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
  /** The whole request as first written (latin1), kept for one retry on a reused connection. */
  private replay: string | undefined;
  private responseBuffer: Buffer | undefined;
  private response: ResponseHead | undefined;
  private responseFraming: BodyFraming | 'until-close' | undefined;
  /** The response head for the editor, sent together with the first body bytes. */
  private pendingClientHead: { response: ResponseHead; text: string } | undefined;
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
  ) {
    const framing = requestFraming(head);
    this.requestFraming = framing;
    this.wantsRequestBytes = framing instanceof ChunkedScanner || framing.kind !== 'none';
    this.isHead = head.method === 'HEAD';
    this.closeClientAfter = head.close;
  }

  /**
   * Forwards the head (the request line, the editor's header lines sliced from `text`, the
   * proxy's own headers) and whatever part of the body has arrived with it, in one write.
   */
  send(
    forward: Forward,
    forwardedRanges: readonly number[],
    text: string,
    initialBody: Buffer | undefined,
  ): void {
    const bodyPart = initialBody ? this.takeRequestBytes(initialBody) : undefined;
    if (bodyPart === null) return;
    // Heads are latin1 text (one character per byte) and go out in one `write(…, 'latin1')`:
    // Node encodes a short string straight into the socket, cheaper than assembling a Buffer.
    let payload =
      forward.requestLine + textOfRanges(text, forwardedRanges) + forward.trailingHeaders;
    if (bodyPart) payload += bodyPart.toString('latin1');
    this.upstream = this.relay.pool.acquire(this);
    if (!this.wantsRequestBytes && this.upstream.reused) this.replay = payload;
    if (!this.upstream.socket.write(payload, 'latin1') && this.wantsRequestBytes)
      this.pauseClient();
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
      const text = buffer.toString('latin1', 0, headEnd + 2);
      let response: ResponseHead;
      try {
        response = parseResponseHead(text, DROPPED_RESPONSE_HEADERS);
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
      this.startResponse(response, text, buffer, bodyStart);
      return;
    }
  }

  private startResponse(
    response: ResponseHead,
    text: string,
    buffer: Buffer,
    bodyStart: number,
  ): void {
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
    // The head goes out at once, with whatever body came along: an event stream's client
    // waits for the head before its first event.
    this.pendingClientHead = { response, text };
    this.relayResponseBody(buffer, bodyStart);
  }

  /** The status line, the server's header lines as received, then the body part, in one write. */
  private flushClientHead(bodyPart: Buffer | undefined): void {
    const { response, text } = this.pendingClientHead as { response: ResponseHead; text: string };
    this.pendingClientHead = undefined;
    this.responseStarted = true;
    let out = response.statusLine + textOfRanges(text, response.forwardedRanges);
    out += this.closeClientAfter ? 'Connection: close\r\n\r\n' : '\r\n';
    if (bodyPart) out += bodyPart.toString('latin1');
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

  private writeToClient(bytes: Buffer | string): void {
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
        this.upstream.socket.write(replay, 'latin1');
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
