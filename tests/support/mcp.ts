import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as StreamableHTTPClientTransportV2,
} from '@modelcontextprotocol/client';

/**
 * How a test client talks to the server:
 * - `modern`: SDK v2's client pinned to the 2026-07-28 revision (per-request `_meta`, no handshake);
 * - `auto`: SDK v2's client negotiating (`server/discover` first);
 * - `streamable`: SDK v1's client, the 2025-era `initialize` handshake over Streamable HTTP (what
 *   many editors still embed);
 * - `sse`: SDK v1's client over the legacy HTTP+SSE transport.
 */
export type McpTransportKind = 'modern' | 'auto' | 'streamable' | 'sse';
export const mcpTransportKinds = ['modern', 'streamable', 'sse'] as const;
export const allMcpClientKinds = ['modern', 'auto', 'streamable', 'sse'] as const;

/** The protocol eras the tools are served in (tests/tools). */
export type ProtocolEra = 'modern' | 'legacy';
export const protocolEras = ['modern', 'legacy'] as const;

export const modernRevision = '2026-07-28';

/** What the tests need of a client, whichever SDK and era it is. */
export interface McpClientLike {
  listTools(): Promise<{
    tools: {
      name: string;
      inputSchema: Record<string, unknown>;
      annotations?: Record<string, unknown>;
      outputSchema?: Record<string, unknown>;
    }[];
  }>;
  callTool(request: {
    name: string;
    arguments?: Record<string, unknown>;
  }): Promise<{ content?: unknown; structuredContent?: unknown; isError?: boolean }>;
  close(): Promise<void>;
}

/**
 * Connects a real SDK client to the server with the given headers (and optional query
 * parameters on the endpoint URL).
 */
export async function connectMcpClient(
  baseUrl: string,
  kind: McpTransportKind,
  options: { headers?: Record<string, string>; query?: Record<string, string> } = {},
): Promise<McpClientLike> {
  const headers = options.headers ?? {};
  const url = new URL(kind === 'sse' ? '/sse' : '/mcp', baseUrl);
  for (const [name, value] of Object.entries(options.query ?? {}))
    url.searchParams.set(name, value);
  if (kind === 'modern' || kind === 'auto') {
    const client = new ClientV2(
      { name: 'pm-mcp-tests', version: '1.0.0' },
      { versionNegotiation: { mode: kind === 'modern' ? { pin: modernRevision } : 'auto' } },
    );
    await client.connect(new StreamableHTTPClientTransportV2(url, { requestInit: { headers } }));
    return client;
  }
  const client = new Client({ name: 'pm-mcp-tests', version: '1.0.0' });
  if (kind === 'streamable') {
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
  } else {
    await client.connect(
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- the legacy transport is under test
      new SSEClientTransport(url, {
        requestInit: { headers },
        eventSourceInit: {
          fetch: (input, init) =>
            fetch(input, {
              ...init,
              headers: { ...(init.headers as Record<string, string>), ...headers },
            }),
        },
      }),
    );
  }
  return client as unknown as McpClientLike;
}

/** A client of one era over Streamable HTTP (the tools suites). */
export function connectEraClient(baseUrl: string, era: ProtocolEra): Promise<McpClientLike> {
  return connectMcpClient(baseUrl, era === 'modern' ? 'modern' : 'streamable');
}

export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((item) => item.text ?? '').join('\n');
}
