import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, registerAccount, type CreatedKey } from '../support/http.js';
import { modernRevision } from '../support/mcp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { rawRequest } from './raw-http.js';
import { fuzzParameters, nastyString } from './support.js';

/**
 * Arbitrary and almost-right JSON-RPC on `/mcp` in both protocol eras (2026-07-28 with the
 * `_meta` envelope and its headers; 2025 without) and on the legacy `/messages`: never a 500,
 * the server keeps answering, and the same request gets the same answer.
 */
const methods = [
  'initialize',
  'notifications/initialized',
  'server/discover',
  'tools/list',
  'tools/call',
  'ping',
  'resources/list',
  'prompts/list',
  'logging/setLevel',
  'completion/complete',
  'notifications/cancelled',
] as const;
const toolNames = ['list_providers', 'get_issue', 'search_issues', 'create_issue', 'nope'] as const;

const envelope = fc.record(
  {
    'io.modelcontextprotocol/protocolVersion': fc.oneof(
      fc.constantFrom(modernRevision, '2025-06-18', '2025-03-26', '2099-01-01', ''),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    'io.modelcontextprotocol/clientInfo': fc.oneof(
      fc.constant({ name: 'fuzz', version: '1' }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    'io.modelcontextprotocol/clientCapabilities': fc.oneof(
      fc.constant({}),
      fc.jsonValue({ maxDepth: 2 }),
    ),
  },
  { requiredKeys: [] },
);

const id = fc.oneof(
  fc.integer(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, 2 ** 64, 1e308, -0, 0.5),
  fc.string({ maxLength: 40 }),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 1 }),
);

const params = fc.oneof(
  fc.record(
    {
      _meta: fc.oneof(envelope, fc.jsonValue({ maxDepth: 2 })),
      name: fc.oneof(fc.constantFrom(...toolNames), fc.jsonValue({ maxDepth: 1 })),
      arguments: fc.oneof(fc.constant({}), fc.jsonValue({ maxDepth: 3 })),
      protocolVersion: fc.constantFrom(modernRevision, '2025-06-18', 'x'),
      capabilities: fc.jsonValue({ maxDepth: 2 }),
      clientInfo: fc.jsonValue({ maxDepth: 2 }),
      cursor: nastyString(50),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 2 }),
);

const message = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue({ maxDepth: 0 })),
    id,
    method: fc.oneof(fc.constantFrom(...methods), nastyString(40), fc.jsonValue({ maxDepth: 0 })),
    params,
    result: fc.jsonValue({ maxDepth: 2 }),
    error: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: ['jsonrpc'] },
);

const body = fc.oneof(
  { weight: 5, arbitrary: message.map((value) => JSON.stringify(value)) },
  {
    weight: 1,
    arbitrary: fc.array(message, { maxLength: 4 }).map((value) => JSON.stringify(value)),
  },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: nastyString(300) },
);

const headerText = fc.oneof(
  fc.constantFrom(...methods, ...toolNames, modernRevision, '2025-06-18'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
);

describe('JSON-RPC bodies', () => {
  let server: TestServer;
  let key: CreatedKey;

  beforeAll(async () => {
    server = await startTestServer();
    key = await createKey(server.url, await registerAccount(server.url, 'Fuzz'));
  });
  afterAll(async () => {
    const logs = server.logs.join('');
    await server.stop();
    expect(logs).not.toContain('unhandled error');
    expect(logs).not.toContain('MCP handler failed');
    expect(logs).not.toContain('tool failed unexpectedly');
  });

  it('on /mcp in both eras: never a 500, the same answer twice', async () => {
    const property = fc.asyncProperty(
      body,
      fc.record(
        {
          'MCP-Protocol-Version': headerText,
          'Mcp-Method': headerText,
          'Mcp-Name': headerText,
          Accept: fc.constantFrom('application/json, text/event-stream', 'application/json', '*/*'),
          'Content-Type': fc.constantFrom(
            'application/json',
            'text/plain',
            'application/json; charset=latin1',
          ),
        },
        { requiredKeys: ['Accept', 'Content-Type'] },
      ),
      async (text, headers) => {
        const send = () =>
          rawRequest(server.url, {
            method: 'POST',
            path: '/mcp',
            headers: [['X-MCP-API-Key', key.api_key], ...Object.entries(headers)],
            body: text,
          });
        const first = await send();
        expect(first.status).toBeLessThan(500);
        const second = await send();
        expect({ status: second.status, body: second.body }).toEqual({
          status: first.status,
          body: first.body,
        });
      },
    );
    await fc.assert(property, fuzzParameters(250, 30_000));
    const health = await rawRequest(server.url, { method: 'GET', path: '/health', headers: [] });
    expect(health.status).toBe(200);
  }, 90_000);

  it('on the legacy /messages of a live SSE stream: never a 500, the same answer twice, the stream keeps serving', async () => {
    const stream = await fetch(new URL('/sse', server.url), {
      headers: { 'x-mcp-api-key': key.api_key, accept: 'text/event-stream' },
    });
    expect(stream.status).toBe(200);
    if (!stream.body) throw new Error('the SSE stream has no body');
    const reader = stream.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    const decoder = new TextDecoder();
    let received = '';
    const readUntil = async (pattern: RegExp): Promise<RegExpExecArray> => {
      for (;;) {
        const match = pattern.exec(received);
        if (match) return match;
        const { value, done } = await reader.read();
        if (done) throw new Error('the SSE stream ended');
        received += decoder.decode(value, { stream: true });
      }
    };
    const endpoint = (await readUntil(/event: endpoint\ndata: (\S+)\n/))[1] ?? '';
    const post = (text: string, withKey: boolean) =>
      rawRequest(server.url, {
        method: 'POST',
        path: endpoint,
        headers: [
          ['Content-Type', 'application/json'],
          ...(withKey ? ([['X-MCP-API-Key', key.api_key]] as [string, string][]) : []),
        ],
        body: text,
      });
    try {
      const initialize = await post(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 'init',
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'fuzz', version: '1' },
          },
        }),
        true,
      );
      expect(initialize.status).toBe(202);
      await readUntil(/"id":"init"/);
      const property = fc.asyncProperty(body, fc.boolean(), async (text, withKey) => {
        const first = await post(text, withKey);
        expect(first.status).toBeLessThan(500);
        const second = await post(text, withKey);
        expect({ status: second.status, body: second.body }).toEqual({
          status: first.status,
          body: first.body,
        });
      });
      await fc.assert(property, fuzzParameters(150, 20_000));
      // After all that, the stream still answers a request.
      const list = await post(
        JSON.stringify({ jsonrpc: '2.0', id: 'after-fuzz', method: 'tools/list' }),
        true,
      );
      expect(list.status).toBe(202);
      const answer = (await readUntil(/data: (\{[^\n]*"id":"after-fuzz"[^\n]*)\n/))[1] ?? '';
      expect(
        (JSON.parse(answer) as { result?: { tools?: unknown[] } }).result?.tools?.length,
      ).toBeGreaterThan(0);
    } finally {
      await reader.cancel();
    }
  }, 90_000);
});
