import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpParseError, parseRequestHead, textOfRanges } from '../../main/proxy/http1.js';
import {
  createLoopbackProxy,
  generateLocalToken,
  type LoopbackProxy,
} from '../../main/proxy/proxy.js';
import { runtimeKey } from '../proxy/support.js';
import { fuzzParameters } from './support.js';

/**
 * The loopback proxy is a byte relay: whatever an editor and the server send must arrive exactly,
 * however the bytes are split into reads, and whatever is malformed must be refused before it
 * reaches the server. Random bodies (every byte value), random extra header lines (obs-text
 * included), random splits of the request and of the response, over real sockets; and the head
 * parser against a line-by-line reading of RFC 9110/9112.
 */

const CRLF = '\r\n';
/** RFC 9110 tchar (ASCII: one character each). */
const TCHARS = Array.from(
  "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
);
/** Field-value bytes: HTAB, SP, VCHAR, obs-text. */
const VALUE_BYTES = [9, ...range(0x20, 0x7f), ...range(0x80, 0x100)];

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, index) => from + index);
}

const latin1 = (codes: number[]): string => String.fromCharCode(...codes);

/** Extra header lines no one drops or reads: `x-f<n>-<token>: <value>`, unique by position. */
const extraHeaders = fc
  .array(
    fc.tuple(
      fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 }),
      fc.array(fc.constantFrom(...VALUE_BYTES), { maxLength: 60 }).map(latin1),
    ),
    { maxLength: 6 },
  )
  .map((pairs) => pairs.map(([name, value], index) => `x-f${index}-${name}: ${value}`));

/** Cut points splitting `length` bytes into at most `pieces` parts. */
const splits = (pieces: number): fc.Arbitrary<number[]> =>
  fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: pieces - 1 });

function split(bytes: Buffer, fractions: number[]): Buffer[] {
  const cuts = [...new Set(fractions.map((f) => Math.floor(f * bytes.length)))]
    .filter((cut) => cut > 0 && cut < bytes.length)
    .sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    parts.push(bytes.subarray(from, cut));
    from = cut;
  }
  return parts;
}

/** Writes the parts one by one, letting the event loop turn between them. */
async function writeInParts(socket: Socket, parts: Buffer[]): Promise<void> {
  for (const part of parts) {
    await new Promise<void>((resolve, reject) =>
      socket.write(part, (error) => (error ? reject(error) : resolve())),
    );
    await new Promise((resolve) => setImmediate(resolve));
  }
}

interface Received {
  head: string;
  body: Buffer;
}

interface Exchange {
  responseHeaders: string[];
  responseSplits: number[];
}

interface RecordingServer {
  server: Server;
  port: number;
  received: Received[];
  /** How the next request is answered. */
  next: Exchange;
}

/**
 * A server that records each request exactly as received (head as latin1 text, body as bytes)
 * and answers with the request body echoed, the test's header lines, split as the test says.
 */
function startRecordingServer(): Promise<RecordingServer> {
  const recorder: RecordingServer = {
    server: createServer((socket) => {
      let buffered = Buffer.alloc(0);
      let answering = Promise.resolve();
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        for (;;) {
          const headEnd = buffered.indexOf('\r\n\r\n');
          if (headEnd === -1) return;
          const head = buffered.toString('latin1', 0, headEnd);
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buffered.length < headEnd + 4 + length) return;
          const body = Buffer.from(buffered.subarray(headEnd + 4, headEnd + 4 + length));
          buffered = buffered.subarray(headEnd + 4 + length);
          recorder.received.push({ head, body });
          const { responseHeaders, responseSplits } = recorder.next;
          const response = Buffer.concat([
            Buffer.from(
              `HTTP/1.1 200 OK${CRLF}${responseHeaders.map((line) => line + CRLF).join('')}` +
                `Content-Length: ${body.length}${CRLF}${CRLF}`,
              'latin1',
            ),
            body,
          ]);
          // A proxy that went away mid-answer fails the test through its own assertions.
          answering = answering
            .then(() => writeInParts(socket, split(response, responseSplits)))
            .catch(() => undefined);
        }
      });
    }),
    port: 0,
    received: [],
    next: { responseHeaders: [], responseSplits: [] },
  };
  return new Promise((resolve) =>
    recorder.server.listen(0, '127.0.0.1', () => {
      recorder.port = (recorder.server.address() as AddressInfo).port;
      resolve(recorder);
    }),
  );
}

interface ClientResponse {
  statusLine: string;
  headerLines: string[];
  body: Buffer;
}

/** Sends `request` in parts on a new connection and reads until the proxy closes it. */
async function send(port: number, request: Buffer, fractions: number[]): Promise<ClientResponse> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve());
    socket.on('error', reject);
    socket.setTimeout(20_000, () => reject(new Error('no answer from the proxy')));
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  await writeInParts(socket, split(request, fractions));
  await ended;
  socket.destroy();
  const raw = Buffer.concat(chunks);
  const headEnd = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...headerLines] = raw.toString('latin1', 0, headEnd).split(CRLF);
  return { statusLine, headerLines, body: raw.subarray(headEnd + 4) };
}

describe('the loopback proxy relays bytes exactly', () => {
  let upstream: RecordingServer;
  let proxy: LoopbackProxy;
  let port: number;
  const key = runtimeKey();
  const token = generateLocalToken();

  beforeAll(async () => {
    upstream = await startRecordingServer();
    proxy = createLoopbackProxy({
      port: 0,
      upstreamBaseUrl: `http://127.0.0.1:${upstream.port}`,
      credentials: { apiKey: () => key, localToken: () => token },
    });
    port = (await proxy.start()).port;
  });
  afterAll(async () => {
    await proxy.stop();
    await new Promise((resolve) => upstream.server.close(resolve));
  });

  it('forwards any body and any extra header lines byte for byte, however they are split', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        extraHeaders,
        extraHeaders,
        splits(6),
        splits(6),
        async (bodyBytes, requestHeaders, responseHeaders, requestSplits, responseSplits) => {
          const body = Buffer.from(bodyBytes);
          upstream.next = { responseHeaders, responseSplits };
          const before = upstream.received.length;
          const request = Buffer.concat([
            Buffer.from(
              `POST /mcp HTTP/1.1${CRLF}Host: 127.0.0.1:${port}${CRLF}` +
                `Authorization: Bearer ${token}${CRLF}` +
                requestHeaders.map((line) => line + CRLF).join('') +
                `Content-Length: ${body.length}${CRLF}Connection: close${CRLF}${CRLF}`,
              'latin1',
            ),
            body,
          ]);
          const response = await send(port, request, requestSplits);

          expect(response.statusLine).toBe('HTTP/1.1 200 OK');
          expect(response.body.equals(body), 'the echoed body, byte for byte').toBe(true);
          // The server's lines reach the editor as sent, in order.
          expect(response.headerLines.filter((line) => line.startsWith('x-f'))).toEqual(
            responseHeaders,
          );

          expect(upstream.received.length).toBe(before + 1);
          const forwarded = upstream.received[before] as Received;
          expect(forwarded.body.equals(body), 'the request body, byte for byte').toBe(true);
          const lines = forwarded.head.split(CRLF);
          expect(lines[0]).toBe('POST /mcp HTTP/1.1');
          expect(lines.filter((line) => line.startsWith('x-f'))).toEqual(requestHeaders);
          expect(lines).toContain(`X-MCP-API-Key: ${key}`);
          expect(lines.some((line) => /^authorization:/i.test(line))).toBe(false);
          expect(lines.filter((line) => /^host:/i.test(line))).toEqual([
            `Host: 127.0.0.1:${upstream.port}`,
          ]);
        },
      ),
      fuzzParameters(60, 20_000),
    );
  }, 90_000);

  it('refuses a malformed head with 400 before anything reaches the server, however it is split', async () => {
    const malformedLine = fc.oneof(
      fc.constant(' x-folded: obs-fold'), // a continuation line
      fc.constant('x-space : before the colon'),
      fc.constant(': no name'),
      fc.constant('no colon at all'),
      fc.constantFrom('x-nul: a\0b', 'x-bare-cr: a\rb', 'x-ctl: a\x01b', 'x-del: a\x7fb'),
      fc.constant('Content-Length: 1\r\nContent-Length: 2'),
      fc.constant('Content-Length: 0\r\nTransfer-Encoding: chunked'),
      fc.constant('Transfer-Encoding: gzip'),
      fc.constant('Content-Length: -1'),
    );
    await fc.assert(
      fc.asyncProperty(
        extraHeaders,
        malformedLine,
        fc.nat(),
        splits(6),
        async (headers, bad, at, requestSplits) => {
          const lines = [...headers];
          lines.splice(at % (lines.length + 1), 0, bad);
          const before = upstream.received.length;
          const request = Buffer.from(
            `POST /mcp HTTP/1.1${CRLF}Host: 127.0.0.1:${port}${CRLF}` +
              `Authorization: Bearer ${token}${CRLF}` +
              lines.map((line) => line + CRLF).join('') +
              `Connection: close${CRLF}${CRLF}`,
            'latin1',
          );
          const response = await send(port, request, requestSplits);
          expect(response.statusLine, JSON.stringify(bad)).toBe('HTTP/1.1 400 Bad Request');
          expect(upstream.received.length).toBe(before);
        },
      ),
      fuzzParameters(60, 20_000),
    );
  }, 90_000);
});

/** Lines with every byte outside printable ASCII written as `\xNN`. */
function shown(lines: string[]): string {
  return lines
    .map((line) =>
      line.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`),
    )
    .join(' | ');
}

/** Whether a header block (lines after the request line) is acceptable, read line by line. */
function referenceAccepts(lines: string[]): boolean {
  return lines.every((line) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*$/.test(line));
}

describe('the proxy head parser', () => {
  it('accepts exactly the header lines RFC 9110 allows and forwards the ones it does not read', () => {
    // Any byte, and often one at a class boundary: NUL, HTAB, VT, US, SP, '"', '(', ':', '@',
    // DEL, the first and last obs-text bytes.
    const anyByte = fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0, 9, 11, 31, 32, 34, 40, 58, 64, 127, 128, 255),
    );
    const wellFormedLine = extraHeaders.map((lines) => lines[0] ?? 'x-empty:');
    const line = fc.oneof(
      wellFormedLine,
      // A well-formed line with one byte put anywhere: the cases a parser gets subtly wrong.
      fc.tuple(wellFormedLine, anyByte, fc.nat()).map(([l, byte, at]) => {
        const where = at % (l.length + 1);
        return l.slice(0, where) + String.fromCharCode(byte) + l.slice(where);
      }),
      fc.array(anyByte, { maxLength: 30 }).map(latin1),
      fc
        .tuple(
          fc.string({ unit: fc.constantFrom(...TCHARS, ' ', '\t', ':'), maxLength: 10 }),
          fc.array(anyByte, { maxLength: 20 }).map(latin1),
        )
        .map(([name, value]) => `${name}:${value}`),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (rawLines) => {
        // CR and LF end lines: a line holding them is several lines (or a bare CR/LF).
        const lines = rawLines.filter((l) => !l.includes('\r') && !l.includes('\n'));
        const head = `GET /mcp HTTP/1.1${CRLF}${lines.map((l) => l + CRLF).join('')}`;
        let parsed: ReturnType<typeof parseRequestHead> | undefined;
        try {
          parsed = parseRequestHead(head, new Set(['cookie']));
        } catch (error) {
          expect(error).toBeInstanceOf(HttpParseError);
        }
        const wellFormed = referenceAccepts(lines);
        if (!wellFormed) {
          expect(parsed, `accepted ${shown(lines)}`).toBeUndefined();
          return;
        }
        // Well-formed lines can still be refused for what they say (several Content-Length, a
        // transfer coding other than chunked, an unknown expectation), and only then.
        const names = lines.map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
        const saysSomething = names.some((name) =>
          ['content-length', 'transfer-encoding', 'expect'].includes(name),
        );
        if (!saysSomething) expect(parsed, `refused ${shown(lines)}`).toBeDefined();
        if (parsed === undefined) return;
        const text = textOfRanges(head, parsed.forwardedRanges);
        const unread = lines.filter((l) => /^x-f/.test(l.slice(0, l.indexOf(':')).toLowerCase()));
        expect(text.split(CRLF).filter((l) => l.toLowerCase().startsWith('x-f'))).toEqual(unread);
      }),
      fuzzParameters(2_000, 10_000),
    );
  }, 60_000);
});
