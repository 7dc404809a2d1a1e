import { describe, expect, it } from 'vitest';
import {
  ChunkedScanner,
  HttpParseError,
  parseRequestHead,
  parseResponseHead,
  textOfRanges,
} from '../../main/proxy/http1.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('ChunkedScanner', () => {
  const message = '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n';

  it('finds the end of a chunked body in one piece, leaving what follows', () => {
    const scanner = new ChunkedScanner();
    const end = scanner.scan(bytes(`${message}NEXT`), 0);
    expect(end).toBe(message.length);
    expect(scanner.done).toBe(true);
  });

  it('finds the same end when the body arrives one byte at a time', () => {
    const scanner = new ChunkedScanner();
    const all = bytes(message);
    let endAt = -1;
    for (let i = 0; i < all.length && endAt === -1; i++) {
      const result = scanner.scan(all.subarray(i, i + 1), 0);
      if (result !== -1) endAt = i + result;
    }
    expect(endAt).toBe(all.length);
  });

  it('skips a large chunk without looking at its bytes one by one', () => {
    const scanner = new ChunkedScanner();
    const big = 'a'.repeat(100_000);
    const text = `${(100_000).toString(16)}\r\n${big}\r\n0\r\n\r\n`;
    expect(scanner.scan(bytes(text), 0)).toBe(text.length);
  });

  for (const [name, text] of [
    ['a non-hex size', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['a chunk longer than announced', '3\r\nhello\r\n0\r\n\r\n'],
    ['a bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
    ['a size that overflows', 'fffffffffffffff\r\n'],
    ['a bare LF in a trailer', '0\r\nX: 1\n\r\n'],
  ] as const) {
    it(`rejects ${name}`, () => {
      expect(() => new ChunkedScanner().scan(bytes(text), 0)).toThrow(HttpParseError);
    });
  }
});

describe('parseRequestHead', () => {
  const dropped = new Set(['cookie']);

  it('keeps forwarded lines byte for byte and pulls out what the checks need', () => {
    const text =
      'POST /mcp?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAuthorization: Bearer t\r\n' +
      'Cookie: a=b\r\nX-Name:  spaced value \t\r\nContent-Length: 12\r\nConnection: keep-alive, X-Name';
    const head = parseRequestHead(text, dropped);
    expect(head).toMatchObject({
      method: 'POST',
      target: '/mcp?x=1',
      host: '127.0.0.1:9',
      hostCount: 1,
      authorization: 'Bearer t',
      contentLength: 12,
      chunked: false,
      close: false,
    });
    // Cookie dropped; X-Name dropped because Connection names it (hop-by-hop).
    expect(textOfRanges(text, head.forwardedRanges)).toBe('Content-Length: 12\r\n');
  });

  it('reports HTTP/1.0 as an unsupported version, not as malformed', () => {
    try {
      parseRequestHead('GET /mcp HTTP/1.0\r\nHost: a', dropped);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(HttpParseError);
      expect((error as HttpParseError).kind).toBe('version');
    }
  });
});

describe('parseResponseHead', () => {
  it('reads framing, closing and event streams, and drops what it is told to', () => {
    const text =
      'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n' +
      'Set-Cookie: s=1\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive';
    const head = parseResponseHead(text, new Set(['set-cookie']));
    expect(head).toMatchObject({
      status: 200,
      statusLine: 'HTTP/1.1 200 OK\r\n',
      chunked: true,
      contentLength: -1,
      close: false,
      eventStream: true,
      keepAliveTimeoutMs: 5000,
    });
    expect(textOfRanges(text, head.forwardedRanges)).toBe(
      'Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n',
    );
  });

  it('rejects a response with both Content-Length and Transfer-Encoding', () => {
    expect(() =>
      parseResponseHead(
        'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked',
        new Set(),
      ),
    ).toThrow(HttpParseError);
  });
});
