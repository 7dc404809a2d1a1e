/**
 * TEST ONLY. Replaces Electron's IPC transport, and nothing else, so the built renderer can run in
 * a plain headless Chromium against the real main-process services:
 *
 * - serves `renderer/dist` over http://127.0.0.1:<port>/ (the page's own CSP stays in force),
 * - injects `./__ipc/shim.js` (a same-origin script, so `script-src 'self'` still holds) that
 *   defines `window.pmMcp` with the contract's `PreloadApi`, each method a `fetch` instead of
 *   `ipcRenderer.invoke`, and `onStateChanged` an EventSource instead of `ipcRenderer.on`,
 * - answers `POST /__ipc/<method>` with the SAME dispatcher the Electron handlers use
 *   (`main/electron/ipc-dispatch.ts`: zod argument validation, `{ok, value | error}` replies),
 *   calling the real `DesktopCore`.
 *
 * It exists only when a test creates it with `enableTestBridge: true` (Signal Desktop's rule:
 * test hooks only behind an explicit flag); the app itself never loads this file.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { AppState, DesktopApi } from '../../preload/contract.js';
import {
  desktopMethods,
  dispatchDesktopCall,
  isDesktopMethod,
} from '../../main/electron/ipc-dispatch.js';

export interface BridgedServices extends DesktopApi {
  onStateChanged(listener: (state: AppState) => void): () => void;
}

export interface IpcBridgeOptions {
  /** Must be literally `true`: the bridge refuses to exist otherwise. */
  enableTestBridge: true;
  services: BridgedServices;
  /** The built renderer (`renderer/dist`). */
  rendererDir: string;
  /** Every call that reached the services, for assertions (method names only, never values). */
  onCall?: (method: string) => void;
}

export interface IpcBridge {
  url: string;
  stop(): Promise<void>;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** The page-side stand-in for preload/index.ts, with the same error behaviour. */
function shimSource(): string {
  return `(() => {
  'use strict';
  const methods = ${JSON.stringify(desktopMethods)};
  const failure = { code: 'ipc_failed', message: 'The app did not answer. Restart PM MCP and try again.' };
  async function invoke(method, args) {
    let reply;
    try {
      const response = await fetch('./__ipc/' + method, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ args }),
      });
      reply = await response.json();
    } catch {
      reply = undefined;
    }
    if (!reply || typeof reply !== 'object') throw { ...failure };
    if (reply.ok === true) return reply.value;
    if (reply.error && typeof reply.error.code === 'string') {
      throw { code: reply.error.code, message: String(reply.error.message) };
    }
    throw { ...failure };
  }
  const api = {};
  for (const method of methods) api[method] = (...args) => invoke(method, args);
  api.onStateChanged = (listener) => {
    const source = new EventSource('./__ipc/events');
    source.onmessage = (event) => listener(JSON.parse(event.data));
    return () => source.close();
  };
  Object.defineProperty(window, 'pmMcp', { value: Object.freeze(api), enumerable: true });
})();
`;
}

export async function startIpcBridge(options: IpcBridgeOptions): Promise<IpcBridge> {
  // A runtime check as well as a type: a caller in plain JS (or with a cast) still cannot get one.
  const flag: unknown = options.enableTestBridge;
  if (flag !== true) {
    throw new Error('The IPC test bridge runs only when created with enableTestBridge: true');
  }
  const rendererDir = path.resolve(options.rendererDir);
  const indexHtml = await readFile(path.join(rendererDir, 'index.html'), 'utf8');
  if (!indexHtml.includes('<script')) throw new Error('renderer/dist/index.html has no script');
  // A classic script runs before the deferred module script, like a preload does.
  const bridgedHtml = indexHtml.replace(
    '<script',
    '<script src="./__ipc/shim.js"></script>\n    <script',
  );
  const shim = shimSource();
  const eventStreams = new Set<ServerResponse>();
  const unsubscribe = options.services.onStateChanged((state) => {
    const frame = `data: ${JSON.stringify(state)}\n\n`;
    for (const stream of eventStreams) stream.write(frame);
  });

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500).end();
      else response.end();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const address = server.address() as AddressInfo;
    if (request.headers.host !== `127.0.0.1:${address.port}`) {
      response.writeHead(403).end();
      return;
    }
    const { pathname } = new URL(request.url ?? '/', `http://127.0.0.1:${address.port}`);

    if (request.method === 'POST' && pathname.startsWith('/__ipc/')) {
      const method = pathname.slice('/__ipc/'.length);
      if (!isDesktopMethod(method)) {
        sendJson(response, 404, { ok: false, error: { code: 'unknown_method', message: method } });
        return;
      }
      const body = await readBody(request);
      let args: unknown[] = [];
      try {
        const parsed = JSON.parse(body) as { args?: unknown };
        if (Array.isArray(parsed.args)) args = parsed.args as unknown[];
      } catch {
        args = [Symbol('unparseable')];
      }
      options.onCall?.(method);
      sendJson(response, 200, await dispatchDesktopCall(options.services, method, args));
      return;
    }
    if (request.method !== 'GET') {
      response.writeHead(405).end();
      return;
    }
    if (pathname === '/__ipc/shim.js') {
      send(response, 200, contentTypes['.js'], shim);
      return;
    }
    if (pathname === '/__ipc/events') {
      response.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      response.write(': connected\n\n');
      eventStreams.add(response);
      request.on('close', () => eventStreams.delete(response));
      return;
    }
    if (pathname === '/' || pathname === '/index.html') {
      send(response, 200, contentTypes['.html'], bridgedHtml);
      return;
    }
    const file = path.resolve(rendererDir, `.${decodeURIComponent(pathname)}`);
    if (!file.startsWith(`${rendererDir}${path.sep}`)) {
      response.writeHead(404).end();
      return;
    }
    try {
      const content = await readFile(file);
      send(response, 200, contentTypes[path.extname(file)] ?? 'application/octet-stream', content);
    } catch {
      response.writeHead(404).end();
    }
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/`,
    async stop() {
      unsubscribe();
      for (const stream of eventStreams) stream.end();
      eventStreams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(
  response: ServerResponse,
  status: number,
  contentType: string | undefined,
  body: string | Buffer,
): void {
  response.writeHead(status, {
    'content-type': contentType ?? 'application/octet-stream',
    'cache-control': 'no-store',
  });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, contentTypes['.json'], JSON.stringify(value));
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 1_000_000) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
