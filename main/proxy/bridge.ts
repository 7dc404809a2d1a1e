import type { Readable, Writable } from 'node:stream';
import {
  SdkHttpError,
  StreamableHTTPClientTransport,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/client';
// The lint pattern for our own `server/` folder also matches the SDK's stdio server transport.
// eslint-disable-next-line no-restricted-imports -- @modelcontextprotocol/server, not server/
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';

/**
 * `pm-mcp bridge`: MCP over stdio (newline-delimited JSON-RPC) to the editor, relayed message by
 * message to the loopback proxy over Streamable HTTP. Claude Desktop only starts stdio servers,
 * so this is how it reaches the proxy. It is a transport-to-transport relay: the editor and the
 * server negotiate everything themselves; the bridge only keeps the HTTP session alive (it
 * re-initialises with the editor's own `initialize` when the server forgot the session). SDK v2's
 * HTTP transport derives the 2026-07-28 headers (`MCP-Protocol-Version`, `Mcp-Method`,
 * `Mcp-Name`) from each message's `_meta` envelope, so editors of either era pass through.
 */
export interface StdioBridgeOptions {
  /** The proxy's MCP endpoint, e.g. `http://127.0.0.1:8765/mcp`. */
  url: string;
  /** Sent with every request, e.g. `{ Authorization: 'Bearer <local token>' }`. */
  headers: Record<string, string>;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** What `url` points at, for the message when nothing answers there (default `proxy`). */
  target?: 'proxy' | 'server';
}

/** JSON-RPC "server error" range; the editor shows the message. */
const RELAY_ERROR_CODE = -32000;
const CONNECTION_REFUSED_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
]);

type JsonRpcRequestMessage = Extract<JSONRPCMessage, { method: string; id: RequestId }>;

function isRequest(message: JSONRPCMessage): message is JsonRpcRequestMessage {
  return 'method' in message && 'id' in message;
}

function errorCode(error: unknown): string | undefined {
  // fetch() reports "fetch failed" and puts the socket error (with its code) in `cause`.
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    if (typeof current !== 'object') return undefined;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs until stdin ends (resolves 0) or the proxy cannot be reached (resolves 1 after a clear
 * message on stderr). The caller exits with the returned code.
 */
export async function runStdioBridge(options: StdioBridgeOptions): Promise<number> {
  const { stdin, stdout, stderr } = options;
  const url = new URL(options.url);
  const editor = new StdioServerTransport(stdin, stdout);
  const inFlight = new Set<Promise<void>>();

  let initializeRequest: JsonRpcRequestMessage | undefined;
  /** Everything after `initialize` waits for its answer, so it carries the session id. */
  let initialized: Promise<void> = Promise.resolve();
  let reinitializing: Promise<void> | undefined;
  let reinitializeCount = 0;
  const internalReplies = new Map<RequestId, (message: JSONRPCMessage) => void>();

  let finished = false;
  let resolveExit: (code: number) => void = () => undefined;
  const exit = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });

  const say = (line: string): void => {
    stderr.write(`pm-mcp bridge: ${line}\n`);
  };

  function rememberProtocolVersion(
    message: JSONRPCMessage,
    transport: StreamableHTTPClientTransport,
  ) {
    if (!('result' in message) || initializeRequest?.id !== message.id) return;
    const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
    if (typeof version === 'string') transport.setProtocolVersion(version);
  }

  function newProxyTransport(): StreamableHTTPClientTransport {
    const transport = new StreamableHTTPClientTransport(url, {
      requestInit: { headers: options.headers },
    });
    transport.onmessage = (message) => {
      if ('id' in message && message.id !== undefined && !('method' in message)) {
        const internal = internalReplies.get(message.id);
        if (internal) {
          internalReplies.delete(message.id);
          internal(message);
          return;
        }
      }
      rememberProtocolVersion(message, transport);
      void editor.send(message).catch(() => undefined);
    };
    transport.onerror = (error) => {
      // Failed sends are reported where they are caught; this is the server-to-client stream.
      if (error instanceof SdkHttpError || finished) return;
      if (CONNECTION_REFUSED_CODES.has(errorCode(error) ?? '')) return;
      say(`stream from the proxy: ${messageOf(error)}`);
    };
    return transport;
  }

  let proxy = newProxyTransport();

  async function finish(code: number): Promise<void> {
    if (finished) return;
    finished = true;
    stdin.off('end', onStdinEnd);
    stdin.off('close', onStdinEnd);
    if (code === 0) {
      await Promise.allSettled([...inFlight]);
      // Tell the server the session is over; a proxy that already went away is fine.
      await proxy.terminateSession().catch(() => undefined);
    }
    await proxy.close().catch(() => undefined);
    await editor.close().catch(() => undefined);
    resolveExit(code);
  }

  function proxyNotRunning(): void {
    say(
      options.target === 'server'
        ? `the PM MCP server at ${url.origin} is not reachable (connection refused). ` +
            'Check that it is running, then restart your editor.'
        : `the PM MCP proxy at ${url.origin} is not running (connection refused). ` +
            'Start the PM MCP app or run `pm-mcp proxy`, then restart your editor.',
    );
    void finish(1);
  }

  /** The server forgot the session (restart, expiry): open a new one with the editor's initialize. */
  function reinitialize(original: JsonRpcRequestMessage): Promise<void> {
    reinitializing ??= (async () => {
      await proxy.close();
      proxy = newProxyTransport();
      await proxy.start();
      const id = `pm-mcp-bridge-reinitialize-${++reinitializeCount}`;
      const reply = new Promise<JSONRPCMessage>((resolve) => internalReplies.set(id, resolve));
      await proxy.send({ ...original, id });
      const answer = await reply;
      if ('error' in answer) throw new Error(answer.error.message);
      if (!('result' in answer)) throw new Error('unexpected answer to initialize');
      const version = (answer.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof version === 'string') proxy.setProtocolVersion(version);
      await proxy.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    })().finally(() => {
      reinitializing = undefined;
    });
    return reinitializing;
  }

  async function relay(message: JSONRPCMessage, retried = false): Promise<void> {
    try {
      if (reinitializing) await reinitializing;
      await proxy.send(message);
    } catch (error) {
      if (finished) return;
      if (CONNECTION_REFUSED_CODES.has(errorCode(error) ?? '')) {
        if (isRequest(message)) await answerWithError(message, error).catch(() => undefined);
        proxyNotRunning();
        return;
      }
      const sessionGone = error instanceof SdkHttpError && error.status === 404;
      if (sessionGone && !retried && initializeRequest && message !== initializeRequest) {
        try {
          await reinitialize(initializeRequest);
          await relay(message, true);
          return;
        } catch (reinitError) {
          say(`could not open a new session: ${messageOf(reinitError)}`);
        }
      }
      say(messageOf(error));
      if (isRequest(message)) await answerWithError(message, error).catch(() => undefined);
    }
  }

  function answerWithError(request: JsonRpcRequestMessage, error: unknown): Promise<void> {
    return editor.send({
      jsonrpc: '2.0',
      id: request.id,
      error: { code: RELAY_ERROR_CODE, message: `PM MCP proxy: ${messageOf(error)}` },
    });
  }

  function track(promise: Promise<void>): void {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  }

  editor.onmessage = (message) => {
    if (finished) return;
    if (isRequest(message) && message.method === 'initialize') {
      initializeRequest = message;
      initialized = relay(message);
      track(initialized);
      return;
    }
    track(initialized.then(() => relay(message)));
  };
  editor.onerror = (error) => {
    say(`unreadable message from the editor: ${messageOf(error)}`);
  };

  function onStdinEnd(): void {
    void finish(0);
  }
  stdin.once('end', onStdinEnd);
  stdin.once('close', onStdinEnd);

  await proxy.start();
  await editor.start();
  return exit;
}
