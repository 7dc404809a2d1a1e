import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One HTTP/1.1 request written byte for byte on a fresh connection (fetch and node:http refuse
 * many header values a hostile client can still send: raw UTF-8, obs-text, control characters).
 * Header values are sent as their UTF-8 bytes unless given as a Buffer.
 */
export async function rawRequest(
  baseUrl: string,
  request: {
    method: string;
    path: string;
    headers: [string, string | Buffer][];
    body?: string | Buffer;
    /** Leave out the Host header the request would otherwise carry (it is then in `headers`). */
    ownHost?: boolean;
  },
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const lines: Buffer[] = [Buffer.from(`${request.method} ${request.path} HTTP/1.1\r\n`)];
  if (!request.ownHost) lines.push(Buffer.from(`Host: ${url.host}\r\n`));
  for (const [name, value] of request.headers)
    lines.push(Buffer.concat([Buffer.from(`${name}: `), Buffer.from(value), Buffer.from('\r\n')]));
  if (body) lines.push(Buffer.from(`Content-Length: ${body.length}\r\n`));
  lines.push(Buffer.from('Connection: close\r\n\r\n'));
  if (body) lines.push(body);
  const socket = connect(Number(url.port), url.hostname);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve());
    // The server may close while we still write a refused request.
    socket.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ECONNRESET' || error.code === 'EPIPE' ? resolve() : reject(error),
    );
    socket.setTimeout(20_000, () =>
      reject(new Error(`no answer to ${request.method} ${request.path}`)),
    );
    // No half-close: a server may drop a request whose client has ended its side.
    socket.write(Buffer.concat(lines));
  });
  socket.destroy();
  return parseResponse(Buffer.concat(chunks));
}

function parseResponse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1)
    throw new Error(
      `not an HTTP response: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`,
    );
  const [statusLine = '', ...headerLines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) throw new Error(`bad status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = unchunk(body);
  return { status, headers, body: body.toString('utf8') };
}

function unchunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < data.length) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd === -1) break;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** Percent-encodes bytes, leaving some as they are (so stray `%`, `&` and `=` also occur). */
export function queryValue(bytes: Uint8Array, raw: boolean[]): string {
  const keep = /[A-Za-z0-9\-._~!$'()*+,;:@/?%&=]/;
  return Array.from(bytes, (byte, index) => {
    const char = String.fromCharCode(byte);
    return raw[index] && keep.test(char) ? char : `%${byte.toString(16).padStart(2, '0')}`;
  }).join('');
}
