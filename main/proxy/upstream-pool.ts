import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * Keep-alive connections to the PM MCP server, reused last-in first-out. Each socket gets its
 * listeners once, when it is opened; they call whichever exchange currently holds it, so a
 * request costs no listener churn.
 */

export interface UpstreamTarget {
  secure: boolean;
  hostname: string;
  port: number;
}

/** What an exchange does with its connection's events while it holds it. */
export interface UpstreamHandler {
  onUpstreamData(chunk: Buffer): void;
  onUpstreamEnd(): void;
  onUpstreamClose(error: Error | undefined): void;
  onUpstreamDrain(): void;
}

export interface UpstreamConnection {
  readonly socket: Socket;
  /** Whether it carried a response before (a reused socket may have been closed meanwhile). */
  readonly reused: boolean;
  handler: UpstreamHandler | undefined;
}

interface PooledConnection extends UpstreamConnection {
  reused: boolean;
  idleSince: number;
  idleLimitMs: number;
  lastError: Error | undefined;
}

/** Free sockets close before a typical server's keep-alive timeout (Node: 5 s). */
const DEFAULT_IDLE_LIMIT_MS = 4_000;
/** Leave this much of a server's announced keep-alive timeout unused, against races. */
const KEEP_ALIVE_MARGIN_MS = 1_000;
const MAX_IDLE_CONNECTIONS = 256;
const CONNECT_TIMEOUT_MS = 10_000;

export class UpstreamPool {
  private readonly idle: PooledConnection[] = [];
  private readonly open = new Set<PooledConnection>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly target: UpstreamTarget) {
    this.sweeper = setInterval(() => this.closeExpired(Date.now()), DEFAULT_IDLE_LIMIT_MS / 2);
    this.sweeper.unref();
  }

  /** A connection for one exchange: the most recently used idle one, or a new one. */
  acquire(handler: UpstreamHandler, fresh = false): UpstreamConnection {
    if (!fresh) {
      const now = Date.now();
      for (let pooled = this.idle.pop(); pooled; pooled = this.idle.pop()) {
        if (now - pooled.idleSince < pooled.idleLimitMs && !pooled.socket.destroyed) {
          pooled.handler = handler;
          return pooled;
        }
        pooled.socket.destroy();
      }
    }
    return this.connect(handler);
  }

  /** Returns a connection whose exchange completed cleanly; `keepAliveMs` is the server's hint. */
  release(connection: UpstreamConnection, keepAliveMs: number | undefined): void {
    const pooled = connection as PooledConnection;
    pooled.handler = undefined;
    if (pooled.socket.destroyed || this.idle.length >= MAX_IDLE_CONNECTIONS) {
      pooled.socket.destroy();
      return;
    }
    pooled.reused = true;
    pooled.idleSince = Date.now();
    pooled.idleLimitMs =
      keepAliveMs === undefined
        ? DEFAULT_IDLE_LIMIT_MS
        : Math.min(DEFAULT_IDLE_LIMIT_MS, keepAliveMs - KEEP_ALIVE_MARGIN_MS);
    if (pooled.idleLimitMs <= 0) {
      pooled.socket.destroy();
      return;
    }
    if (pooled.socket.isPaused()) pooled.socket.resume();
    this.idle.push(pooled);
  }

  /** Closes every connection, idle or busy (the proxy is stopping). */
  destroy(): void {
    clearInterval(this.sweeper);
    for (const connection of this.open) connection.socket.destroy();
    this.open.clear();
    this.idle.length = 0;
  }

  private connect(handler: UpstreamHandler): UpstreamConnection {
    const { secure, hostname, port } = this.target;
    const socket: Socket = secure
      ? connectTls({
          host: hostname,
          port,
          ...(isIP(hostname) ? {} : { servername: hostname }),
          ALPNProtocols: ['http/1.1'],
        })
      : connectTcp({ host: hostname, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const connection: PooledConnection = {
      socket,
      reused: false,
      handler,
      idleSince: 0,
      idleLimitMs: DEFAULT_IDLE_LIMIT_MS,
      lastError: undefined,
    };
    this.open.add(connection);

    // A server that accepts nothing (firewalled, suspended) must not hold the editor forever.
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
      const error = Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' });
      socket.destroy(error);
    });
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.setTimeout(0));

    socket.on('data', (chunk: Buffer) => {
      if (connection.handler) connection.handler.onUpstreamData(chunk);
      else socket.destroy(); // bytes nobody asked for: the connection is out of step
    });
    socket.on('end', () => {
      if (connection.handler) connection.handler.onUpstreamEnd();
      else socket.destroy();
    });
    socket.on('drain', () => connection.handler?.onUpstreamDrain());
    socket.on('error', (error) => {
      connection.lastError = error;
    });
    socket.on('close', () => {
      this.open.delete(connection);
      const index = this.idle.indexOf(connection);
      if (index !== -1) this.idle.splice(index, 1);
      const current = connection.handler;
      connection.handler = undefined;
      current?.onUpstreamClose(connection.lastError);
    });
    return connection;
  }

  private closeExpired(now: number): void {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const pooled = this.idle[i] as PooledConnection;
      if (now - pooled.idleSince >= pooled.idleLimitMs) {
        this.idle.splice(i, 1);
        pooled.socket.destroy();
      }
    }
  }
}
