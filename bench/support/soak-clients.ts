import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { runStdioBridge } from '../../main/proxy/bridge.js';
import type { McpClientLike } from '../../tests/support/mcp.js';

/**
 * An editor that only starts stdio servers (Claude Desktop), with `pm-mcp bridge` in between:
 * SDK v1's client speaks newline-delimited JSON-RPC into the bridge (`runStdioBridge` over
 * in-memory streams, exactly what the CLI command runs) and the bridge relays to the proxy.
 */
class StdioPipeTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private buffered = '';

  constructor(
    private readonly toBridge: PassThrough,
    private readonly fromBridge: PassThrough,
  ) {}

  start(): Promise<void> {
    this.fromBridge.setEncoding('utf8');
    this.fromBridge.on('data', (text: string) => {
      this.buffered += text;
      let newline: number;
      while ((newline = this.buffered.indexOf('\n')) !== -1) {
        const line = this.buffered.slice(0, newline).trim();
        this.buffered = this.buffered.slice(newline + 1);
        if (line === '') continue;
        try {
          this.onmessage?.(JSON.parse(line) as JSONRPCMessage);
        } catch (error) {
          this.onerror?.(error as Error);
        }
      }
    });
    this.fromBridge.on('end', () => this.onclose?.());
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    this.toBridge.write(`${JSON.stringify(message)}\n`);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.toBridge.end();
    return Promise.resolve();
  }
}

export interface BridgedClient extends McpClientLike {
  /** What the bridge wrote on stderr (its messages to the user). */
  stderr: () => string;
}

/** Starts a bridge to `proxyMcpUrl` and connects SDK v1's client to it over stdio. */
export async function connectThroughBridge(
  proxyMcpUrl: string,
  localToken: string,
): Promise<BridgedClient> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let stderrText = '';
  stderr.setEncoding('utf8');
  stderr.on('data', (text: string) => (stderrText = (stderrText + text).slice(-4000)));
  const bridgeDone = runStdioBridge({
    url: proxyMcpUrl,
    headers: { Authorization: `Bearer ${localToken}` },
    stdin,
    stdout,
    stderr,
  });
  void bridgeDone.then(() => stdout.end());
  const client = new Client({ name: 'pm-mcp-soak-stdio', version: '1.0.0' });
  await client.connect(new StdioPipeTransport(stdin, stdout));
  const like = client as unknown as McpClientLike;
  return {
    listTools: () => like.listTools(),
    callTool: (request) => like.callTool(request),
    async close() {
      await client.close();
      stdin.end();
      await bridgeDone;
    },
    stderr: () => stderrText,
  };
}
