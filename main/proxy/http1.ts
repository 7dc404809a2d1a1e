/**
 * The slice of HTTP/1.1 (RFC 9112) the loopback proxy needs, parsed strictly and cheaply.
 *
 * The proxy relays bytes between two sockets instead of going through `node:http`'s request and
 * response objects (which cost several times more CPU per request than the relay itself). Only
 * heads are parsed; bodies are forwarded as they are, with just enough framing knowledge
 * (Content-Length or chunked) to know where a message ends. Anything ambiguous is refused:
 * obsolete line folding, bare CR or LF, whitespace before a colon, several Content-Length or
 * Transfer-Encoding headers, both at once, a transfer coding other than `chunked`.
 */

/** Longest request head accepted (Node's default is 16 KiB too). */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_HEADER_LINES = 200;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: visible ASCII, space, tab and obs-text; never CR, LF or NUL. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const REQUEST_TARGET = /^[\x21-\x7e]+$/;
const DIGITS = /^\d{1,15}$/;

export class HttpParseError extends Error {
  override readonly name = 'HttpParseError';
  /** `version`: a well-formed request in an HTTP version the proxy does not speak. */
  readonly kind: 'malformed' | 'version';

  constructor(message: string, kind: 'malformed' | 'version' = 'malformed') {
    super(message);
    this.kind = kind;
  }
}

export interface RequestHead {
  method: string;
  target: string;
  /**
   * Header lines to forward, as `[start, end)` offset pairs into the parsed head (each line with
   * its CRLF; adjacent lines merged), without the ones the caller drops. The head is the received
   * bytes decoded as latin1 (one character per byte): the relay forwards these slices as they
   * are instead of rebuilding the lines.
   */
  forwardedRanges: number[];
  host: string | undefined;
  hostCount: number;
  hasOrigin: boolean;
  authorization: string | undefined;
  /** -1 when absent. */
  contentLength: number;
  chunked: boolean;
  expectContinue: boolean;
  /** The client asked to close the connection after this exchange. */
  close: boolean;
}

export interface ResponseHead {
  status: number;
  /** `HTTP/1.1 <status> <reason>\r\n`. */
  statusLine: string;
  /** As for requests: offset pairs of the header lines to relay. */
  forwardedRanges: number[];
  contentLength: number;
  chunked: boolean;
  /** The server will close the connection after this response. */
  close: boolean;
  eventStream: boolean;
  /** From `Keep-Alive: timeout=N`, in milliseconds; undefined when not announced. */
  keepAliveTimeoutMs: number | undefined;
}

/**
 * Byte classes of a latin1-decoded head: header-name characters (RFC 9110 tchar) and field-value
 * characters (visible ASCII, space, tab, obs-text; never CR, LF or NUL).
 */
const TOKEN_CHAR = new Uint8Array(256);
const VALUE_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
  TOKEN_CHAR[c.charCodeAt(0)] = 1;
VALUE_CHAR[9] = 1;
VALUE_CHAR.fill(1, 0x20, 0x7f);
VALUE_CHAR.fill(1, 0x80, 0x100);

/**
 * Called per header line with the lower-case name, where its value lies in the head (`[valueStart,
 * valueEnd)`, optional whitespace trimmed: slice it only when needed), the offset of the line's
 * first character and the offset just past its CRLF (for the last line: 2 past the head's end).
 * Positional arguments rather than an object: this runs for every header of every request.
 */
type HeaderVisitor = (
  lower: string,
  valueStart: number,
  valueEnd: number,
  start: number,
  end: number,
) => void;

/** Adds `[start, end)` to `ranges`, merged with the previous range when they touch. */
function addRange(ranges: number[], start: number, end: number): void {
  const last = ranges.length - 1;
  if (last > 0 && ranges[last] === start) ranges[last] = end;
  else ranges.push(start, end);
}

/** Whether the line starting at `start` lies inside one of `ranges`. */
function forwardedRangesHold(ranges: readonly number[], start: number): boolean {
  for (let i = 0; i < ranges.length; i += 2)
    if (start >= (ranges[i] as number) && start < (ranges[i + 1] as number)) return true;
  return false;
}

/** The text of `ranges` in `source` (a parsed head), each line ending in CRLF. */
export function textOfRanges(source: string, ranges: readonly number[]): string {
  let text = '';
  for (let i = 0; i < ranges.length; i += 2) {
    const slice = source.slice(ranges[i], ranges[i + 1]);
    text += slice.endsWith('\r\n') ? slice : `${slice}\r\n`;
  }
  return text;
}

/**
 * Calls `each` for every header line of `head` from `offset`; throws on anything malformed. The
 * characters are checked against the byte classes in one pass, without slicing the line.
 */
function forEachHeader(head: string, offset: number, each: HeaderVisitor): void {
  let position = offset;
  let count = 0;
  while (position < head.length) {
    let lineEnd = head.indexOf('\r\n', position);
    if (lineEnd === -1) lineEnd = head.length;
    const start = position;
    position = lineEnd + 2;
    if (++count > MAX_HEADER_LINES) throw new HttpParseError('too many header lines');
    // The name: tchar up to the colon. Also rejects obs-fold (a line starting with whitespace)
    // and whitespace before the colon.
    let colon = start;
    while (colon < lineEnd && TOKEN_CHAR[head.charCodeAt(colon)] === 1) colon++;
    if (colon === start || colon === lineEnd || head.charCodeAt(colon) !== 58 /* ':' */) {
      const firstColon = head.indexOf(':', start);
      throw new HttpParseError(
        firstColon <= start || firstColon >= lineEnd
          ? 'header line without a name'
          : 'invalid header name',
      );
    }
    let valueStart = colon + 1;
    let valueEnd = lineEnd;
    for (let i = valueStart; i < valueEnd; i++)
      if (VALUE_CHAR[head.charCodeAt(i)] !== 1) throw new HttpParseError('invalid header value');
    while (valueStart < valueEnd && isOws(head.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isOws(head.charCodeAt(valueEnd - 1))) valueEnd--;
    // The relay passes the head with its last line's CRLF, so `end` is within it; a head given
    // without it gets an `end` 2 past its length for the last line (`textOfRanges` adds the CRLF).
    each(head.slice(start, colon).toLowerCase(), valueStart, valueEnd, start, position);
  }
}

function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

function parseContentLength(value: string, seen: number): number {
  if (seen !== -1) throw new HttpParseError('several Content-Length headers');
  if (!DIGITS.test(value)) throw new HttpParseError('invalid Content-Length');
  return Number(value);
}

function parseChunked(value: string, seen: boolean): boolean {
  if (seen || value.toLowerCase() !== 'chunked')
    throw new HttpParseError('unsupported Transfer-Encoding');
  return true;
}

/** Whether a `Connection` value lists anything other than `keep-alive` and `close`. */
function connectionTokens(value: string): string[] {
  // The usual values, without splitting (this runs for most requests).
  const lower = value.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close') return [];
  return lower
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '' && token !== 'keep-alive' && token !== 'close');
}

/**
 * Parses a request head (the text before the blank line, latin1-decoded so bytes round-trip).
 * `dropped` names headers (lower case) that are not forwarded; the framing headers are always
 * forwarded because the body is relayed with its framing unchanged.
 */
export function parseRequestHead(head: string, dropped: ReadonlySet<string>): RequestHead {
  // RFC 9112 §2.2: ignore empty lines before the request line.
  let start = 0;
  while (head.startsWith('\r\n', start)) start += 2;
  let lineEnd = head.indexOf('\r\n', start);
  if (lineEnd === -1) lineEnd = head.length;
  const requestLine = head.slice(start, lineEnd);
  const firstSpace = requestLine.indexOf(' ');
  const lastSpace = requestLine.lastIndexOf(' ');
  if (firstSpace <= 0 || lastSpace === firstSpace) throw new HttpParseError('bad request line');
  const method = requestLine.slice(0, firstSpace);
  const target = requestLine.slice(firstSpace + 1, lastSpace);
  const version = requestLine.slice(lastSpace + 1);
  if (!TOKEN.test(method) || !REQUEST_TARGET.test(target))
    throw new HttpParseError('bad request line');
  if (version !== 'HTTP/1.1') {
    if (/^HTTP\/\d\.\d$/.test(version)) throw new HttpParseError(version, 'version');
    throw new HttpParseError('bad HTTP version');
  }

  const result: RequestHead = {
    method,
    target,
    forwardedRanges: [],
    host: undefined,
    hostCount: 0,
    hasOrigin: false,
    authorization: undefined,
    contentLength: -1,
    chunked: false,
    expectContinue: false,
    close: false,
  };
  let extraHopByHop: string[] | undefined;
  const forwarded = result.forwardedRanges;
  forEachHeader(head, lineEnd + 2, (lower, valueStart, valueEnd, start, end) => {
    switch (lower) {
      case 'host':
        result.host = head.slice(valueStart, valueEnd);
        result.hostCount++;
        return;
      case 'origin':
        result.hasOrigin = true;
        break;
      case 'authorization':
        result.authorization = head.slice(valueStart, valueEnd);
        return;
      case 'content-length':
        result.contentLength = parseContentLength(
          head.slice(valueStart, valueEnd),
          result.contentLength,
        );
        addRange(forwarded, start, end);
        return;
      case 'transfer-encoding':
        result.chunked = parseChunked(head.slice(valueStart, valueEnd), result.chunked);
        addRange(forwarded, start, end);
        return;
      case 'expect':
        if (head.slice(valueStart, valueEnd).toLowerCase() !== '100-continue')
          throw new HttpParseError('unsupported expectation');
        result.expectContinue = true;
        return;
      case 'connection': {
        const value = head.slice(valueStart, valueEnd);
        if (/(^|,)\s*close\s*(,|$)/i.test(value)) result.close = true;
        const extra = connectionTokens(value);
        if (extra.length > 0) (extraHopByHop ??= []).push(...extra);
        return;
      }
    }
    if (!dropped.has(lower)) addRange(forwarded, start, end);
  });
  if (result.chunked && result.contentLength !== -1)
    throw new HttpParseError('both Content-Length and Transfer-Encoding');
  if (extraHopByHop) {
    // Rare: the client named more hop-by-hop headers in `Connection`; drop those too (the
    // framing headers stay: the body is relayed with its framing unchanged).
    const named = new Set(extraHopByHop);
    named.delete('content-length');
    named.delete('transfer-encoding');
    const kept: number[] = [];
    forEachHeader(head, lineEnd + 2, (lower, _valueStart, _valueEnd, start, end) => {
      if (!named.has(lower) && forwardedRangesHold(forwarded, start)) addRange(kept, start, end);
    });
    result.forwardedRanges = kept;
  }
  return result;
}

/** Parses a response head from the upstream server; `dropped` as for requests. */
export function parseResponseHead(head: string, dropped: ReadonlySet<string>): ResponseHead {
  let lineEnd = head.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = head.length;
  const statusLine = head.slice(0, lineEnd);
  if (!/^HTTP\/1\.[01] \d{3}( |$)/.test(statusLine)) throw new HttpParseError('bad status line');
  const status = Number(statusLine.slice(9, 12));
  const reason = statusLine.slice(13);
  if (!FIELD_VALUE.test(reason)) throw new HttpParseError('bad reason phrase');
  const result: ResponseHead = {
    status,
    statusLine: `HTTP/1.1 ${statusLine.slice(9)}\r\n`,
    forwardedRanges: [],
    contentLength: -1,
    chunked: false,
    close: statusLine.startsWith('HTTP/1.0'),
    eventStream: false,
    keepAliveTimeoutMs: undefined,
  };
  const forwarded = result.forwardedRanges;
  forEachHeader(head, lineEnd + 2, (lower, valueStart, valueEnd, start, end) => {
    switch (lower) {
      case 'content-length':
        result.contentLength = parseContentLength(
          head.slice(valueStart, valueEnd),
          result.contentLength,
        );
        break;
      case 'transfer-encoding':
        result.chunked = parseChunked(head.slice(valueStart, valueEnd), result.chunked);
        break;
      case 'connection': {
        const value = head.slice(valueStart, valueEnd);
        if (/(^|,)\s*close\s*(,|$)/i.test(value)) result.close = true;
        else if (/(^|,)\s*keep-alive\s*(,|$)/i.test(value) && statusLine.startsWith('HTTP/1.0'))
          result.close = false;
        return;
      }
      case 'keep-alive': {
        const timeout = /(?:^|,)\s*timeout=(\d+)/i.exec(head.slice(valueStart, valueEnd))?.[1];
        if (timeout !== undefined) result.keepAliveTimeoutMs = Number(timeout) * 1000;
        return;
      }
      case 'content-type':
        if (head.slice(valueStart, valueEnd).toLowerCase().startsWith('text/event-stream'))
          result.eventStream = true;
        break;
    }
    if (!dropped.has(lower)) addRange(forwarded, start, end);
  });
  if (result.chunked && result.contentLength !== -1)
    throw new HttpParseError('both Content-Length and Transfer-Encoding');
  return result;
}

const enum ChunkState {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  EndLf,
  Done,
}

function hexValue(byte: number): number {
  if (byte >= 48 && byte <= 57) return byte - 48;
  if (byte >= 97 && byte <= 102) return byte - 87;
  if (byte >= 65 && byte <= 70) return byte - 55;
  return -1;
}

/**
 * Follows chunked framing (RFC 9112 §7.1) over a byte stream without copying it, to find where
 * the message ends. Chunk data is skipped in one step, so long chunks cost nothing per byte.
 */
export class ChunkedScanner {
  private state = ChunkState.Size;
  private remaining = 0;
  private digits = 0;
  private trailerBytes = 0;

  get done(): boolean {
    return this.state === ChunkState.Done;
  }

  /** Returns the offset just past the message's end, or -1 if `bytes` ends inside it. */
  scan(bytes: Uint8Array, from: number): number {
    let i = from;
    const length = bytes.length;
    while (i < length) {
      switch (this.state) {
        case ChunkState.Data: {
          const step = Math.min(this.remaining, length - i);
          this.remaining -= step;
          i += step;
          if (this.remaining === 0) this.state = ChunkState.DataCr;
          continue;
        }
        case ChunkState.Done:
          return i;
      }
      const byte = bytes[i] as number;
      i++;
      switch (this.state) {
        case ChunkState.Size: {
          const value = hexValue(byte);
          if (value !== -1) {
            if (++this.digits > 12) throw new HttpParseError('chunk too large');
            this.remaining = this.remaining * 16 + value;
          } else if (this.digits === 0) {
            throw new HttpParseError('bad chunk size');
          } else if (byte === 13) {
            this.state = ChunkState.SizeLf;
          } else if (byte === 59 /* ; */ || byte === 32 || byte === 9) {
            this.state = ChunkState.Extension;
          } else {
            throw new HttpParseError('bad chunk size');
          }
          break;
        }
        case ChunkState.Extension:
          if (byte === 13) this.state = ChunkState.SizeLf;
          else if (byte === 10 || byte === 0) throw new HttpParseError('bad chunk extension');
          break;
        case ChunkState.SizeLf:
          if (byte !== 10) throw new HttpParseError('bad chunk line');
          this.digits = 0;
          this.state = this.remaining === 0 ? ChunkState.TrailerStart : ChunkState.Data;
          break;
        case ChunkState.DataCr:
          if (byte !== 13) throw new HttpParseError('chunk longer than announced');
          this.state = ChunkState.DataLf;
          break;
        case ChunkState.DataLf:
          if (byte !== 10) throw new HttpParseError('chunk longer than announced');
          this.state = ChunkState.Size;
          break;
        case ChunkState.TrailerStart:
          if (byte === 13) this.state = ChunkState.EndLf;
          else if (byte === 10) throw new HttpParseError('bare LF in trailer');
          else this.state = ChunkState.TrailerLine;
          break;
        case ChunkState.TrailerLine:
          if (++this.trailerBytes > MAX_HEAD_BYTES) throw new HttpParseError('trailer too large');
          if (byte === 13) this.state = ChunkState.TrailerLf;
          else if (byte === 10 || byte === 0) throw new HttpParseError('bad trailer');
          break;
        case ChunkState.TrailerLf:
          if (byte !== 10) throw new HttpParseError('bad trailer');
          this.state = ChunkState.TrailerStart;
          break;
        case ChunkState.EndLf:
          if (byte !== 10) throw new HttpParseError('bad last chunk');
          this.state = ChunkState.Done;
          return i;
      }
    }
    return this.state === ChunkState.Done ? i : -1;
  }
}
