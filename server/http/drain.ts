import { Server as NetServer } from 'node:net';
import type { Server } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '../errors.js';
import { sendError } from './http.js';

/**
 * How the HTTP server keeps connections, and how it stops (SPEC §3.9: SIGTERM drains in-flight
 * requests within 10 s).
 *
 * Keep-alive. Clients are told `Keep-Alive: timeout=5`, and those that honour it stop reusing an
 * idle connection before then (undici/fetch after 3 s, Node's agent after 4 s, the loopback
 * proxy's pool, nginx's `keepalive_timeout 4s`); the server itself keeps an idle connection for
 * 65 s, above the 60 s idle timeouts of common load balancers, with `headersTimeout` above that
 * (as their guides ask of Node). A client never writes a request on a connection the server is
 * just closing — the race that surfaces as `fetch failed` / ECONNRESET on a reused socket when a
 * client's idle timer runs late, as on a saturated machine — unless it was idle for a minute.
 *
 * Stopping. Everything is bounded by one deadline counted from the start of `stop`: stop
 * accepting; close the SSE streams; let requests in flight finish (answered with
 * `Connection: close`; a new event stream is refused with 503 `shutting_down`, as a client
 * reconnecting on a kept-alive socket would otherwise hold the drain to its end); with `drain`,
 * close idle keep-alive connections once every client has stopped reusing them (the advertised
 * 5 s after the last answer); at the deadline destroy every connection left.
 */

/** What clients are told (`Keep-Alive: timeout=…`). */
export const keepAliveHintSeconds = 5;
/** How long the server itself keeps an idle connection. */
export const keepAliveTimeoutMs = 65_000;
/** Above `keepAliveTimeoutMs` (and at most Node's `requestTimeout`, 300 s). */
export const headersTimeoutMs = 66_000;
/** After the deadline: how long destroyed connections get to close before stop goes on. */
const closeGraceMs = 1_000;

export interface DrainStopOptions {
  /** Also wait (within the deadline) for idle keep-alive connections to be given up. */
  drain: boolean;
  deadlineMs: number;
  /** Closes the open event streams (run first, within the deadline). */
  closeStreams: () => Promise<void>;
}

export interface DrainOutcome {
  /** Requests still in flight when the deadline cut them off. */
  cutOff: number;
}

/** Resolves `true` when `done` settles within `ms`, `false` otherwise; never rejects. */
export function settlesWithin(done: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    done.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, ms));
    }),
  ]).finally(() => clearTimeout(timer));
}

export class HttpDrain {
  #draining = false;
  #inFlight = 0;
  /** When the last response ended (idle connections have been idle at least since then). */
  #lastAnswerAt = 0;
  /** Set while `stop` waits for the requests in flight to end (nothing to do per request otherwise). */
  #whenIdle: (() => void) | undefined;

  get draining(): boolean {
    return this.#draining;
  }

  /** First in the chain: counts requests, advertises the keep-alive hint, applies draining. */
  middleware(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      res.setHeader('Keep-Alive', `timeout=${keepAliveHintSeconds}`);
      this.#inFlight += 1;
      res.once('close', () => {
        this.#inFlight -= 1;
        this.#lastAnswerAt = Date.now();
        if (this.#inFlight === 0) this.#whenIdle?.();
      });
      if (!this.#draining) {
        next();
        return;
      }
      // Finish this request, and tell the client (or load balancer) not to reuse the
      // connection, so it moves to another instance.
      res.setHeader('Connection', 'close');
      if (req.method === 'GET' && (req.path === '/sse' || req.path === '/mcp')) {
        sendError(
          res,
          new AppError(
            'shutting_down',
            'This server instance is shutting down: open the stream again (another instance, or this one once restarted, answers)',
            { headers: { 'Retry-After': '1' } },
          ),
        );
        return;
      }
      next();
    };
  }

  /** Applies the keep-alive timeouts to the listening server. */
  configure(server: Server): void {
    server.keepAliveTimeout = keepAliveTimeoutMs;
    server.headersTimeout = headersTimeoutMs;
  }

  async stop(server: Server | undefined, options: DrainStopOptions): Promise<DrainOutcome> {
    const deadline = Date.now() + options.deadlineMs;
    const remaining = (): number => Math.max(0, deadline - Date.now());
    this.#draining = true;
    // Stop accepting, but keep idle keep-alive connections (http.Server#close would cut them at
    // once, racing a client that is just reusing one): a request on one is still served.
    const closed = server
      ? new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()))
      : Promise.resolve();
    await settlesWithin(options.closeStreams(), remaining());
    if (this.#inFlight > 0) {
      const idle = new Promise<void>((resolve) => (this.#whenIdle = resolve));
      await settlesWithin(idle, remaining());
      this.#whenIdle = undefined;
    }
    const cutOff = this.#inFlight;
    if (server && options.drain && cutOff === 0) {
      const givenUpAt = this.#lastAnswerAt + keepAliveHintSeconds * 1000;
      await settlesWithin(closed, Math.min(remaining(), givenUpAt - Date.now()));
      server.closeIdleConnections();
      await settlesWithin(closed, remaining());
    }
    server?.closeAllConnections();
    await settlesWithin(closed, closeGraceMs);
    return { cutOff };
  }
}
