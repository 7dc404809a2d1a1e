import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { serveCommands, startChild, startChildMain, type Child } from './child.js';

/**
 * The fastest honest MCP backend: plain `node:http` that reads the request and answers one fixed
 * `tools/call` result (the size of a real one). In front of it, a proxy's own cost is not hidden
 * behind the ~1 ms the SDK spends per call.
 */

const fixedResponse = Buffer.from(
  JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    result: {
      content: [{ type: 'text', text: 'Jira Cloud (jira) https://example.atlassian.net — active' }],
      structuredContent: {
        providers: [
          {
            id: '00000000-0000-4000-8000-000000000000',
            name: 'Jira Cloud',
            provider_type: 'jira',
            base_url: 'https://example.atlassian.net',
            is_active: true,
          },
        ],
      },
    },
  }),
);

export type FastBackend = Child<Record<string, never>, { url: string }>;

export function startFastBackend(): Promise<FastBackend> {
  return startChild(fileURLToPath(import.meta.url), { env: { BENCH_FAST_BACKEND: '1' } });
}

if (process.env.BENCH_FAST_BACKEND === '1' && process.send) {
  startChildMain(async () => {
    const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
      req.on('data', () => undefined);
      req.on('end', () => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': fixedResponse.length,
        });
        res.end(fixedResponse);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await serveCommands(
      {},
      {
        ready: { url: `http://127.0.0.1:${port}` },
        cleanup: () =>
          new Promise((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      },
    );
  });
}
