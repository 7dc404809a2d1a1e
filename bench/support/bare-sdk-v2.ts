import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { bareTools, type JiraSite } from './bare-sdk.js';
import { serveCommands, startChild, startChildMain, type Child } from './child.js';

/**
 * The SDK's ceiling for per-request serving (B2's baseline): SDK v2 `createMcpHandler` with a
 * fresh `McpServer` per request, wrapped with `toNodeHandler` on plain `node:http`, no
 * authentication and no database — how the PM MCP server serves `/mcp`, minus everything of its
 * own. It answers 2026-07-28 requests and, through the handler's stateless fallback, 2025-era
 * ones. The two tools answer what the v1 reference (`bare-sdk.ts`) answers.
 */

function createBareServer(jira: () => JiraSite | undefined): McpServer {
  const server = new McpServer(
    { name: 'bare-sdk-v2', version: '1.0.0' },
    { capabilities: { tools: {} } },
  );
  for (const [name, tool] of Object.entries(bareTools)) {
    server.registerTool(name, tool.config, () => tool.answer(jira()));
  }
  return server;
}

export type BareSdkV2Commands = { setJira: (site: JiraSite) => void };
export type BareSdkV2Server = Child<BareSdkV2Commands, { url: string }>;

export function startBareSdkV2Server(): Promise<BareSdkV2Server> {
  return startChild<BareSdkV2Commands, { url: string }>(fileURLToPath(import.meta.url), {
    env: { BENCH_BARE_SDK_V2: '1' },
  });
}

if (process.env.BENCH_BARE_SDK_V2 === '1' && process.send) {
  startChildMain(async () => {
    let jira: JiraSite | undefined;
    const serveMcp = toNodeHandler(createMcpHandler(() => createBareServer(() => jira)));
    const server: Server = createServer({ keepAlive: true }, (req, res) => {
      if (req.url !== '/mcp') {
        res.writeHead(404).end();
        return;
      }
      void serveMcp(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const commands: BareSdkV2Commands = {
      setJira: (site) => {
        jira = site;
      },
    };
    await serveCommands(commands, {
      ready: { url: `http://127.0.0.1:${port}` },
      cleanup: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      },
    });
  });
}
