import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DesktopError } from '../errors.js';

/** The browser's answer to an authorization request, and how to tell the person the outcome. */
export interface LoopbackRedirect {
  /** The full redirect URL, query included (what the code exchange validates). */
  url: URL;
  /** Answers the browser's tab; resolves once the page is sent. */
  respond(outcome: { ok: boolean; message: string }): Promise<void>;
}

/** A listener for one authorization response on `127.0.0.1:<ephemeral port>` (RFC 8252 §7.3). */
export interface LoopbackListener {
  readonly redirectUri: string;
  /**
   * The first request to the redirect URI (also one that came before this call), or a
   * `browser_sign_in_failed` on timeout or abort.
   */
  next(options: { timeoutMs: number; signal?: AbortSignal | undefined }): Promise<LoopbackRedirect>;
  /** Stops listening and ends every connection (after the answer page, when one is being sent). */
  close(): Promise<void>;
}

const callbackPath = '/callback';

/** A page with no script and nothing loaded: the tab only says what happened. */
function page(outcome: { ok: boolean; message: string }): string {
  const escaped = outcome.message.replace(
    /[&<>"']/g,
    (char) => `&#${char.charCodeAt(0).toString()};`,
  );
  const title = outcome.ok ? 'Signed in to PM MCP' : 'Sign-in did not complete';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1><p>${escaped}</p></body></html>`;
}

function send(res: ServerResponse, status: number, body: string): Promise<void> {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': "default-src 'none'",
    'Cache-Control': 'no-store',
    Connection: 'close',
  });
  const finished = once(res, 'close').then(() => undefined);
  res.end(body);
  return finished;
}

function duration(ms: number): string {
  const [amount, unit] =
    ms >= 60_000 ? [Math.round(ms / 60_000), 'minute'] : [Math.round(ms / 1000), 'second'];
  return `${amount.toString()} ${unit}${amount === 1 ? '' : 's'}`;
}

export async function startLoopbackListener(): Promise<LoopbackListener> {
  // The first answer, kept until `next` takes it (the browser may be quicker than the caller).
  let received: LoopbackRedirect | undefined;
  let deliver: ((redirect: LoopbackRedirect) => void) | undefined;
  let answering: Promise<void> = Promise.resolve();
  const server = createServer((req, res) => {
    const { port } = server.address() as AddressInfo;
    // Another name for this address (DNS rebinding) or another path (favicon): not ours.
    if (req.headers.host !== `127.0.0.1:${port}`) {
      void send(res, 400, page({ ok: false, message: 'Unexpected host.' }));
      return;
    }
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (url.pathname !== callbackPath || req.method !== 'GET') {
      void send(res, 404, page({ ok: false, message: 'Not found.' }));
      return;
    }
    if (received) {
      void send(res, 409, page({ ok: false, message: 'This sign-in is already over.' }));
      return;
    }
    received = {
      url,
      respond: (outcome) => {
        answering = send(res, outcome.ok ? 200 : 400, page(outcome));
        return answering;
      },
    };
    deliver?.(received);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    redirectUri: `http://127.0.0.1:${port}${callbackPath}`,
    next({ timeoutMs, signal }) {
      return new Promise((resolve, reject) => {
        const stop = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          deliver = undefined;
        };
        const onAbort = () => {
          stop();
          reject(new DesktopError('browser_sign_in_failed', 'Browser sign-in cancelled'));
        };
        const timer = setTimeout(() => {
          stop();
          reject(
            new DesktopError(
              'browser_sign_in_failed',
              `The browser did not come back within ${duration(timeoutMs)}: sign-in cancelled. ` +
                'Try again, and finish signing in in the browser tab it opens',
            ),
          );
        }, timeoutMs);
        if (signal?.aborted) {
          onAbort();
          return;
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        deliver = (redirect) => {
          stop();
          resolve(redirect);
        };
        if (received) deliver(received);
      });
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await answering;
      server.closeAllConnections();
      await closed;
    },
  };
}
