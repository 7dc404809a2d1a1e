/**
 * The machinery the three provider fakes share: a real `node:http` server on 127.0.0.1, port 0,
 * that records every request (method, path, query, headers, body) and applies test-controlled
 * behaviour before the fake's own routes answer — latency (fixed and random), a run of 429s with
 * `Retry-After`, random 429s and 5xx, a provider that is always down (503) or hangs without
 * answering, a dead credential. Faults are applied before the route runs, so a refused or hung
 * request never changes the fake's state (as a provider that failed before acting).
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string | string[]>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the raw text when it was not JSON, or undefined when empty. */
  body: unknown;
  rawBody: string;
}

export interface FakeBehaviour {
  /** Delay before answering every request. */
  latencyMs: number;
  /** A further random delay, uniform in [0, latencyJitterMs), per request. */
  latencyJitterMs: number;
  /** Share of requests (0–1) answered 429 with `Retry-After: 1`, at random. */
  randomRateLimitRate: number;
  /** Share of requests (0–1) answered 503, at random. */
  randomServerErrorRate: number;
  /** Requests are read and never answered (a provider that hangs); the client must time out. */
  hang: boolean;
  /** The next `count` requests get 429 with `Retry-After: retryAfterSeconds` (Infinity: forever). */
  rateLimitNext: { count: number; retryAfterSeconds: number } | null;
  /** Every request gets 503 (a provider that never recovers). */
  alwaysUnavailable: boolean;
  /** Every credential is treated as revoked. */
  deadToken: boolean;
  /**
   * Requests whose method and path (`POST /rest/api/3/issueLink`) match get the provider's 403,
   * as for an account without the permission (the credential itself still works).
   */
  forbidden: RegExp | null;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FakeRequestContext {
  request: RecordedRequest;
  behaviour: Readonly<FakeBehaviour>;
  /** The fake's own origin (`http://127.0.0.1:<port>`), for `self` links. */
  origin: string;
}

export interface StartedFake<State> {
  url: string;
  requests: RecordedRequest[];
  state: State;
  behaviour: Readonly<FakeBehaviour>;
  setBehaviour(changes: Partial<FakeBehaviour>): void;
  /** Every recorded string (paths, queries, headers, bodies), for leak checks. */
  recordedText(): string;
  stop(): Promise<void>;
}

export interface FakeDefinition<State> {
  state: State;
  /** Answers a request that passed the behaviour checks. */
  handle(context: FakeRequestContext): FakeResponse | Promise<FakeResponse>;
  /** The provider's 429 (headers and body) for a given `Retry-After`. */
  rateLimited(retryAfterSeconds: number): FakeResponse;
  /** The provider's 503. */
  unavailable(): FakeResponse;
  /** The provider's 403 for an account that lacks a permission. */
  forbidden(request: RecordedRequest): FakeResponse;
  contentType: string;
}

export async function startFakeServer<State>(
  definition: FakeDefinition<State>,
): Promise<StartedFake<State>> {
  const requests: RecordedRequest[] = [];
  const behaviour: FakeBehaviour = {
    latencyMs: 0,
    latencyJitterMs: 0,
    randomRateLimitRate: 0,
    randomServerErrorRate: 0,
    hang: false,
    rateLimitNext: null,
    alwaysUnavailable: false,
    deadToken: false,
    forbidden: null,
  };
  let origin = '';

  const server = createServer((req, res) => {
    res.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://fake.invalid');
      const query: Record<string, string | string[]> = {};
      for (const [name, value] of url.searchParams) {
        const existing = query[name];
        if (existing === undefined) query[name] = value;
        else query[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
      }
      let body: unknown = undefined;
      if (rawBody !== '') {
        try {
          body = JSON.parse(rawBody);
        } catch {
          body = rawBody;
        }
      }
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: safeDecode(url.pathname),
        query,
        headers: req.headers,
        body,
        rawBody,
      };
      requests.push(recorded);
      void answer(recorded, res);
    });
  });

  async function answer(request: RecordedRequest, res: ServerResponse): Promise<void> {
    const delay =
      behaviour.latencyMs +
      (behaviour.latencyJitterMs > 0 ? Math.random() * behaviour.latencyJitterMs : 0);
    if (delay > 0) await sleep(delay);
    if (res.destroyed) return;
    // Held open, unanswered: stop() (closeAllConnections) or the client's timeout ends it.
    if (behaviour.hang) return;
    let response: FakeResponse;
    if (behaviour.alwaysUnavailable) {
      response = definition.unavailable();
    } else if (
      behaviour.randomServerErrorRate > 0 &&
      Math.random() < behaviour.randomServerErrorRate
    ) {
      response = definition.unavailable();
    } else if (behaviour.randomRateLimitRate > 0 && Math.random() < behaviour.randomRateLimitRate) {
      response = definition.rateLimited(1);
    } else if (behaviour.rateLimitNext && behaviour.rateLimitNext.count > 0) {
      const { count, retryAfterSeconds } = behaviour.rateLimitNext;
      behaviour.rateLimitNext =
        count === Infinity ? behaviour.rateLimitNext : { count: count - 1, retryAfterSeconds };
      response = definition.rateLimited(retryAfterSeconds);
    } else if (behaviour.forbidden?.test(`${request.method} ${request.path}`)) {
      response = definition.forbidden(request);
    } else {
      try {
        response = await definition.handle({ request, behaviour, origin });
      } catch (error) {
        response = { status: 500, body: { message: `fake failed: ${String(error)}` } };
      }
    }
    send(res, response, definition.contentType);
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: origin,
    requests,
    state: definition.state,
    behaviour,
    setBehaviour(changes) {
      Object.assign(behaviour, changes);
    },
    recordedText() {
      return requests
        .map((r) =>
          [r.method, r.path, JSON.stringify(r.query), JSON.stringify(r.headers), r.rawBody].join(
            '\n',
          ),
        )
        .join('\n');
    },
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function send(res: ServerResponse, response: FakeResponse, contentType: string): void {
  const headers: Record<string, string> = { ...response.headers };
  let payload = '';
  if (response.body !== undefined) {
    payload = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
    headers['Content-Type'] ??= contentType;
  }
  res.writeHead(response.status, headers);
  res.end(payload);
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Matches `/a/:b/c` style patterns; returns the named parameters or undefined. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const patternParts = pattern.split('/');
  const pathParts = path.replace(/\/+$/, '').split('/');
  if (patternParts.length !== pathParts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of patternParts.entries()) {
    const actual = pathParts[index] ?? '';
    if (part.startsWith(':')) {
      if (actual === '') return undefined;
      params[part.slice(1)] = actual;
    } else if (part !== actual) return undefined;
  }
  return params;
}

/** The single value of a query parameter. */
export function queryValue(request: RecordedRequest, name: string): string | undefined {
  const value = request.query[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Decodes `Authorization: Basic …` into user and password. */
export function basicCredentials(
  request: RecordedRequest,
): { user: string; password: string } | undefined {
  const header = request.headers.authorization;
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function bearerToken(request: RecordedRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

/**
 * A deterministic clock for fakes: each call one minute after the last, so "updated" orders
 * predictably; it starts 30 days ago so relative JQL dates (`updated >= -365d`) keep matching.
 */
export function fakeClock(
  start = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 30 * 86_400_000,
): () => Date {
  let next = start;
  return () => {
    const now = new Date(next);
    next += 60_000;
    return now;
  };
}
