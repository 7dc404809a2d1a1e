import { createServer } from 'node:http';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runStdioBridge } from '../../main/proxy/bridge.js';
import {
  runtimeKey,
  startProxy,
  startSdkUpstream,
  type RunningProxy,
  type SdkUpstream,
} from './support.js';

/** The editor's side of a stdio pair: what an editor writes to the bridge and reads back. */
interface EditorPipes {
  stdin: PassThrough;
  stdout: PassThrough;
  stderr: PassThrough;
  stderrText(): string;
}

function editorPipes(): EditorPipes {
  const pipes = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
  let text = '';
  pipes.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { ...pipes, stderrText: () => text };
}

/** An SDK client transport over the pipes, as the SDK's StdioClientTransport frames messages. */
class PipeClientTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private readonly buffer = new ReadBuffer();

  constructor(private readonly pipes: EditorPipes) {}

  start(): Promise<void> {
    this.pipes.stdout.on('data', (chunk: Buffer) => {
      this.buffer.append(chunk);
      for (let message = this.buffer.readMessage(); message; message = this.buffer.readMessage())
        this.onmessage?.(message);
    });
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    this.pipes.stdin.write(serializeMessage(message));
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.pipes.stdin.end();
    this.onclose?.();
    return Promise.resolve();
  }
}

/** Reads newline-delimited JSON-RPC lines the bridge writes to the editor. */
function linesFrom(stdout: PassThrough): () => Promise<Record<string, unknown>> {
  const buffer = new ReadBuffer();
  const messages: JSONRPCMessage[] = [];
  let wake: (() => void) | undefined;
  stdout.on('data', (chunk: Buffer) => {
    buffer.append(chunk);
    for (let message = buffer.readMessage(); message; message = buffer.readMessage())
      messages.push(message);
    wake?.();
  });
  return async () => {
    while (messages.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return messages.shift() as Record<string, unknown>;
  };
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'claude-desktop-like', version: '1.0.0' },
  },
};

let upstream: SdkUpstream;
let running: RunningProxy;
let serverKey: string;

beforeEach(async () => {
  serverKey = runtimeKey();
  upstream = await startSdkUpstream(() => serverKey);
  running = await startProxy(upstream.baseUrl, serverKey);
});

afterEach(async () => {
  await running.proxy.stop();
  await upstream.close();
});

function bridge(pipes: EditorPipes, token = running.localToken): Promise<number> {
  return runStdioBridge({
    url: `${running.baseUrl}/mcp`,
    headers: { Authorization: `Bearer ${token}` },
    ...pipes,
  });
}

describe('the stdio bridge', () => {
  it('relays initialize and tools/list between stdio and the proxy, and exits 0 on stdin end', async () => {
    const pipes = editorPipes();
    const exit = bridge(pipes);
    const next = linesFrom(pipes.stdout);

    pipes.stdin.write(`${JSON.stringify(initialize)}\n`);
    const initialized = await next();
    expect(initialized).toMatchObject({
      jsonrpc: '2.0',
      id: 1,
      result: { serverInfo: { name: 'fake-pm-mcp' } },
    });
    pipes.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`,
    );
    pipes.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })}\n`);
    const listed = await next();
    expect(listed).toMatchObject({ id: 2, result: { tools: [{ name: 'echo' }] } });

    pipes.stdin.end();
    expect(await exit).toBe(0);
    // The server saw the proxy's key only, and the bridge ended its session on the way out.
    expect(upstream.received.every((r) => r.headers['x-mcp-api-key'] === serverKey)).toBe(true);
    expect(upstream.received.at(-1)?.method).toBe('DELETE');
    expect(pipes.stderrText()).toBe('');
  });

  it('serves the SDK client over stdio: list and call tools', async () => {
    const pipes = editorPipes();
    const exit = bridge(pipes);
    const client = new Client({ name: 'stdio-editor', version: '1.0.0' });
    await client.connect(new PipeClientTransport(pipes));
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['echo']);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'via stdio' } });
    expect(result.content).toEqual([{ type: 'text', text: 'echo: via stdio' }]);
    await client.close();
    expect(await exit).toBe(0);
  });

  it('opens a new session by itself when the server forgot the old one', async () => {
    const pipes = editorPipes();
    const exit = bridge(pipes);
    const client = new Client({ name: 'stdio-editor', version: '1.0.0' });
    await client.connect(new PipeClientTransport(pipes));
    await client.listTools();
    const initializeCount = (): number =>
      upstream.received.filter((r) => r.method === 'POST' && !r.headers['mcp-session-id']).length;
    expect(initializeCount()).toBe(1);

    upstream.forgetSessions();
    const result = await client.callTool({ name: 'echo', arguments: { text: 'again' } });
    expect(result.content).toEqual([{ type: 'text', text: 'echo: again' }]);
    expect(initializeCount()).toBe(2);
    await client.close();
    expect(await exit).toBe(0);
  });

  it('answers with a JSON-RPC error naming the problem when the local token is wrong', async () => {
    const pipes = editorPipes();
    const exit = bridge(pipes, 'not-the-token');
    const next = linesFrom(pipes.stdout);
    pipes.stdin.write(`${JSON.stringify(initialize)}\n`);
    const answer = await next();
    expect(answer).toMatchObject({ id: 1, error: { code: -32000 } });
    expect(JSON.stringify(answer)).toContain('local token');
    expect(pipes.stderrText()).toContain('local token');
    expect(upstream.received).toHaveLength(0);
    pipes.stdin.end();
    expect(await exit).toBe(0);
  });

  it('exits non-zero with a clear message when the proxy is not running', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));

    const pipes = editorPipes();
    const exit = runStdioBridge({
      url: `http://127.0.0.1:${deadPort}/mcp`,
      headers: { Authorization: `Bearer ${running.localToken}` },
      ...pipes,
    });
    const next = linesFrom(pipes.stdout);
    pipes.stdin.write(`${JSON.stringify(initialize)}\n`);
    expect(await exit).toBe(1);
    expect(pipes.stderrText()).toMatch(
      new RegExp(`PM MCP proxy at http://127\\.0\\.0\\.1:${deadPort} is not running`),
    );
    expect(pipes.stderrText()).toContain('pm-mcp proxy');
    expect(pipes.stderrText()).not.toContain(running.localToken);
    expect(await next()).toMatchObject({ id: 1, error: { code: -32000 } });
  });
});
