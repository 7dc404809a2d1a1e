/**
 * Legacy SSE streams (`GET /sse` + `POST /messages?sessionId=…`) on any number of instances.
 *
 * A stream lives on the instance that answered its GET. Its id (256 random bits, not a UUID) is
 * the only thing in its `endpoint` URL and authorises the POSTs on it: the stream was opened with
 * a valid credential, is bound to that user and key, and closes when the key stops being valid.
 * A POST that carries a credential must carry the stream's own (else 404, as for an unknown id).
 *
 * With PostgreSQL every open stream has a row in `mcp_sse_streams`, so a POST landing on another
 * instance finds it there and is handed to the holder through `ClusterEvents` (NOTIFY); the
 * holder renews its rows, so a crashed instance's streams lapse. With SQLite (one instance) the
 * registry is this process's map alone.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage, McpServer } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/authenticate.js';
import type { ClusterEvents } from '../cluster/cluster-events.js';
import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { SseServerTransport } from './sse-transport.js';

export interface SseStreamLimits {
  /** Open streams per key (and per user for session-token callers) across every instance. */
  readonly perKey: number;
  readonly perUser: number;
  /** A stream on which nothing was posted for this long is closed. */
  readonly idleMs: number;
  /** Interval of `: keep-alive` comments. */
  readonly keepAliveMs: number;
}

export const defaultSseStreamLimits: SseStreamLimits = {
  perKey: 20,
  perUser: 20,
  idleMs: 60 * 60_000,
  keepAliveMs: 25_000,
};

/** How long a directory row outlives its holder's last renewal. */
const rowLeaseMs = 60_000;
const renewEveryMs = 15_000;

interface OpenStream {
  readonly id: string;
  readonly userId: string;
  readonly keyId: string | null;
  readonly transport: SseServerTransport;
  readonly server: McpServer;
  lastActivity: number;
  timers: NodeJS.Timeout[];
}

export interface SseStreamsDeps {
  db: Db;
  events: ClusterEvents;
  instanceId: string;
  createServer: (principal: Principal) => McpServer;
  logger: Logger;
  limits?: Partial<SseStreamLimits>;
  now?: () => number;
}

/** ≥128 random bits, URL-safe, and not a UUID (nothing about it is structured or guessable). */
export const newStreamId = (): string => randomBytes(32).toString('base64url');

const bound = (
  stream: { userId: string; keyId: string | null },
  principal: Principal | undefined,
): boolean =>
  principal === undefined ||
  (principal.userId === stream.userId && principal.keyId === stream.keyId);

export class SseStreams {
  readonly #deps: SseStreamsDeps;
  readonly #limits: SseStreamLimits;
  readonly #now: () => number;
  readonly #open = new Map<string, OpenStream>();
  #maintenance: NodeJS.Timeout | undefined;
  #lastRenewal = 0;

  constructor(deps: SseStreamsDeps) {
    this.#deps = deps;
    this.#limits = { ...defaultSseStreamLimits, ...deps.limits };
    this.#now = deps.now ?? Date.now;
    deps.events.on('event', (event) => {
      if (event.t !== 'sse') return;
      const stream = this.#open.get(event.stream);
      if (!stream) return;
      void event
        .message()
        .then((message) => {
          if (message) this.#deliver(stream, message);
        })
        .catch((error: unknown) =>
          deps.logger.warn({ err: error }, 'could not take a message for an SSE stream'),
        );
    });
  }

  get size(): number {
    return this.#open.size;
  }

  /** Key ids with a stream open on this instance. */
  keyIds(): string[] {
    return [...new Set([...this.#open.values()].flatMap((stream) => stream.keyId ?? []))];
  }

  /** Starts renewing this instance's directory rows and closing idle streams. */
  start(): void {
    if (this.#maintenance) return;
    // Often enough to close an idle stream within a quarter of its idle time.
    const every = Math.min(renewEveryMs, Math.max(50, this.#limits.idleMs / 4));
    this.#maintenance = setInterval(() => {
      void this.#maintain().catch((error: unknown) =>
        this.#deps.logger.warn({ err: error }, 'SSE stream maintenance failed'),
      );
    }, every);
    this.#maintenance.unref();
  }

  /**
   * Opens a stream for this caller on `res`. Refused with 429 when the key or user already holds
   * the maximum. `expiresAt` (the key's effective expiry) closes the stream when it comes.
   */
  async open(principal: Principal, res: ServerResponse, expiresAt: Date | null): Promise<void> {
    await this.#checkCapacity(principal);
    const id = newStreamId();
    const transport = new SseServerTransport(id, `/messages?sessionId=${id}`, res);
    const server = this.#deps.createServer(principal);
    const stream: OpenStream = {
      id,
      userId: principal.userId,
      keyId: principal.keyId,
      transport,
      server,
      lastActivity: this.#now(),
      timers: [],
    };
    this.#open.set(id, stream);
    if (this.#deps.events.shared) {
      const now = this.#now();
      await this.#deps.db
        .insertInto('mcp_sse_streams')
        .values({
          id,
          user_id: principal.userId,
          key_id: principal.keyId,
          instance_id: this.#deps.instanceId,
          created_at: new Date(now).toISOString(),
          expires_at: new Date(now + rowLeaseMs).toISOString(),
        })
        .execute();
    }
    const keepAlive = setInterval(() => transport.keepAlive(), this.#limits.keepAliveMs);
    keepAlive.unref();
    stream.timers.push(keepAlive);
    if (expiresAt) {
      // setTimeout holds at most ~24.8 days; the maintenance pass re-checks longer ones.
      const delay = Math.min(expiresAt.getTime() - this.#now(), 2 ** 31 - 1);
      const expiry = setTimeout(() => void this.#close(stream), Math.max(0, delay));
      expiry.unref();
      stream.timers.push(expiry);
    }
    transport.onclose = () => void this.#forget(stream);
    await server.connect(transport);
  }

  /**
   * Hands a POSTed message to its stream, here or on the instance holding it. False when there is
   * no such stream for this caller (the route answers 404).
   */
  async post(
    streamId: string,
    principal: Principal | undefined,
    message: JSONRPCMessage,
  ): Promise<boolean> {
    const local = this.#open.get(streamId);
    if (local) {
      if (!bound(local, principal)) return false;
      this.#deliver(local, message);
      return true;
    }
    if (!this.#deps.events.shared) return false;
    const row = await this.#deps.db
      .selectFrom('mcp_sse_streams')
      .select(['user_id', 'key_id'])
      .where('id', '=', streamId)
      .where('expires_at', '>', new Date(this.#now()).toISOString())
      .executeTakeFirst();
    if (!row || !bound({ userId: row.user_id, keyId: row.key_id }, principal)) return false;
    await this.#deps.events.publishSseMessage(streamId, message);
    return true;
  }

  async closeByKey(keyId: string): Promise<number> {
    return this.#closeWhere((stream) => stream.keyId === keyId);
  }

  async closeByUser(userId: string): Promise<number> {
    return this.#closeWhere((stream) => stream.userId === userId);
  }

  async closeAll(): Promise<void> {
    if (this.#maintenance) clearInterval(this.#maintenance);
    this.#maintenance = undefined;
    await this.#closeWhere(() => true);
  }

  #deliver(stream: OpenStream, message: JSONRPCMessage): void {
    stream.lastActivity = this.#now();
    stream.transport.deliver(message);
  }

  async #checkCapacity(principal: Principal): Promise<void> {
    const { perKey, perUser } = this.#limits;
    let forKey = 0;
    let forUser = 0;
    if (this.#deps.events.shared) {
      const now = new Date(this.#now()).toISOString();
      const rows = await this.#deps.db
        .selectFrom('mcp_sse_streams')
        .select('key_id')
        .where('user_id', '=', principal.userId)
        .where('expires_at', '>', now)
        .execute();
      forUser = rows.length;
      forKey = rows.filter((row) => row.key_id === principal.keyId).length;
    } else {
      for (const stream of this.#open.values()) {
        if (stream.userId !== principal.userId) continue;
        forUser += 1;
        if (stream.keyId === principal.keyId) forKey += 1;
      }
    }
    if (forUser >= perUser || (principal.keyId !== null && forKey >= perKey)) {
      throw new AppError(
        'too_many_streams',
        `Too many open SSE streams for this ${forUser >= perUser ? 'account' : 'key'} (at most ${Math.min(perKey, perUser)}); close one first`,
        { headers: { 'Retry-After': '30' } },
      );
    }
  }

  async #closeWhere(predicate: (stream: OpenStream) => boolean): Promise<number> {
    const matching = [...this.#open.values()].filter(predicate);
    await Promise.allSettled(matching.map((stream) => this.#close(stream)));
    return matching.length;
  }

  async #close(stream: OpenStream): Promise<void> {
    await this.#forget(stream);
    await stream.server.close().catch(() => undefined);
    await stream.transport.close();
  }

  async #forget(stream: OpenStream): Promise<void> {
    if (this.#open.get(stream.id) !== stream) return;
    this.#open.delete(stream.id);
    for (const timer of stream.timers) clearTimeout(timer);
    if (this.#deps.events.shared) {
      await this.#deps.db
        .deleteFrom('mcp_sse_streams')
        .where('id', '=', stream.id)
        .execute()
        .catch((error: unknown) =>
          this.#deps.logger.warn({ err: error }, 'could not remove an SSE stream row'),
        );
    }
    void stream.server.close().catch(() => undefined);
  }

  async #maintain(): Promise<void> {
    const now = this.#now();
    await this.#closeWhere((stream) => now - stream.lastActivity >= this.#limits.idleMs);
    if (!this.#deps.events.shared || now - this.#lastRenewal < renewEveryMs) return;
    this.#lastRenewal = now;
    const { db, instanceId } = this.#deps;
    if (this.#open.size > 0) {
      await db
        .updateTable('mcp_sse_streams')
        .set({ expires_at: new Date(now + rowLeaseMs).toISOString() })
        .where('instance_id', '=', instanceId)
        .execute();
    }
    await db
      .deleteFrom('mcp_sse_streams')
      .where('expires_at', '<', new Date(now).toISOString())
      .execute();
    await db
      .deleteFrom('mcp_sse_messages')
      .where('created_at', '<', new Date(now - rowLeaseMs).toISOString())
      .execute();
  }
}
