import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export type McpTransportKind = 'streamable' | 'sse';
export const mcpTransportKinds = ['streamable', 'sse'] as const;

/**
 * Connects the SDK's real client to the server with the given headers (and optional query
 * parameters on the endpoint URL), over Streamable HTTP (`/mcp`) or legacy SSE (`/sse`).
 */
export async function connectMcpClient(
  baseUrl: string,
  kind: McpTransportKind,
  options: { headers?: Record<string, string>; query?: Record<string, string> } = {},
): Promise<Client> {
  const headers = options.headers ?? {};
  const url = new URL(kind === 'streamable' ? '/mcp' : '/sse', baseUrl);
  for (const [name, value] of Object.entries(options.query ?? {}))
    url.searchParams.set(name, value);
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
  return client;
}

export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((item) => item.text ?? '').join('\n');
}
