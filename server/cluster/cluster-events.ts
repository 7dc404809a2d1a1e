/**
 * What one server instance tells the others, and hears from them (SPEC §3.9).
 *
 * - `key` / `user`: a key row changed or was removed, or a user was deleted. With PostgreSQL these
 *   come from triggers (server-migrations/0004_cluster.ts), so every writer is heard: an instance,
 *   the admin command line, plain SQL. Listeners evict cached key lookups and close streams.
 * - `sse`: a JSON-RPC message POSTed for a legacy SSE stream that another instance holds. A
 *   message too large for a NOTIFY payload travels as a row (`mcp_sse_messages`) named by `row`.
 *
 * With SQLite there is one instance: events stay in the process and `shared` is false.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import pg from 'pg';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import type { Logger } from '../log.js';

export type ClusterEvent =
  | { t: 'key'; id: string; user: string }
  | { t: 'user'; id: string; user: string }
  | {
      t: 'sse';
      stream: string;
      /** The message; only the stream's holder reads it (a large one is fetched once). */
      message: () => Promise<JSONRPCMessage | undefined>;
    };

/** The SSE event as it travels: the message itself, or the row holding it. */
const wireEvent = z.union([
  z.object({ t: z.enum(['key', 'user']), id: z.string(), user: z.string() }),
  z.object({
    t: z.literal('sse'),
    stream: z.string(),
    message: z.record(z.string(), z.unknown()).optional(),
    row: z.string().optional(),
  }),
]);

interface ClusterEventMap {
  event: [ClusterEvent];
  /** The listening connection came up (true) or went down (false). */
  listening: [boolean];
}

export interface ClusterEvents {
  /** True when events cross instances (PostgreSQL). */
  readonly shared: boolean;
  /** Whether notifications from other instances are arriving right now. */
  listening(): boolean;
  on<E extends keyof ClusterEventMap>(
    event: E,
    listener: (...args: ClusterEventMap[E]) => void,
  ): void;
  /** Hands a message to whichever instance holds the stream (this one included). */
  publishSseMessage(stream: string, message: JSONRPCMessage): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** One instance (SQLite): events are delivered in-process. */
export class LocalClusterEvents extends EventEmitter<ClusterEventMap> implements ClusterEvents {
  readonly shared = false;

  listening(): boolean {
    return true;
  }

  publishSseMessage(stream: string, message: JSONRPCMessage): Promise<void> {
    this.emit('event', { t: 'sse', stream, message: () => Promise.resolve(message) });
    return Promise.resolve();
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

/** NOTIFY's payload limit is 8000 bytes; anything near it goes through a row. */
const maxNotifyPayloadBytes = 7_000;

export interface PostgresClusterEventsOptions {
  url: string;
  /** The schema the server's tables live in (tests give each server its own). */
  schema?: string | undefined;
  db: Db;
  logger: Logger;
  /** Named in `pg_stat_activity.application_name`, so operators (and tests) can find it. */
  instanceId: string;
  /** First wait before reconnecting (doubling up to `maxReconnectDelayMs`). */
  reconnectDelayMs?: number;
  /** Longest wait between reconnection attempts. */
  maxReconnectDelayMs?: number;
}

/**
 * LISTEN on `pm_mcp_<schema>` over one dedicated connection (not the pool's: a pooled
 * connection is shared and recycled). When it drops, `listening` turns false at once (callers
 * stop trusting caches) and it reconnects with backoff.
 */
export class PostgresClusterEvents extends EventEmitter<ClusterEventMap> implements ClusterEvents {
  readonly shared = true;
  readonly #options: PostgresClusterEventsOptions;
  #client: pg.Client | undefined;
  #channel: string | undefined;
  #listening = false;
  #stopped = false;
  #reconnectDelayMs: number;
  #reconnectTimer: NodeJS.Timeout | undefined;

  constructor(options: PostgresClusterEventsOptions) {
    super();
    this.#options = options;
    this.#reconnectDelayMs = options.reconnectDelayMs ?? 100;
  }

  listening(): boolean {
    return this.#listening;
  }

  /** Resolves once listening, or rejects with why the first connection failed. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = undefined;
    this.#setListening(false);
    if (client) await client.end().catch(() => undefined);
  }

  async publishSseMessage(stream: string, message: JSONRPCMessage): Promise<void> {
    const channel = await this.#channelName();
    let payload = JSON.stringify({ t: 'sse', stream, message });
    if (Buffer.byteLength(payload) > maxNotifyPayloadBytes) {
      const id = randomUUID();
      await this.#options.db
        .insertInto('mcp_sse_messages')
        .values({
          id,
          stream_id: stream,
          body: JSON.stringify(message),
          created_at: new Date().toISOString(),
        })
        .execute();
      payload = JSON.stringify({ t: 'sse', stream, row: id });
    }
    await pg_notify(this.#options.db, channel, payload);
  }

  async #channelName(): Promise<string> {
    if (this.#channel) return this.#channel;
    const { schema } = await this.#options.db
      .selectNoFrom((eb) => eb.fn<string>('current_schema').as('schema'))
      .executeTakeFirstOrThrow();
    this.#channel = `pm_mcp_${schema}`;
    return this.#channel;
  }

  async #connect(): Promise<void> {
    const { url, schema, instanceId, logger } = this.#options;
    const client = new pg.Client({
      connectionString: url,
      application_name: `pm-mcp-listener:${instanceId}`,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    client.on('error', (error) => {
      logger.warn({ err: error }, 'cluster listener connection failed');
      this.#lost(client);
    });
    client.on('end', () => this.#lost(client));
    client.on('notification', (notification) => {
      if (notification.payload) this.#receive(notification.payload);
    });
    await client.connect();
    const channel = await this.#channelName();
    // The channel is an identifier: quote it (schema names in tests are generated, in
    // production `public`).
    await client.query(`LISTEN "${channel.replaceAll('"', '""')}"`);
    if (this.#stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#reconnectDelayMs = this.#options.reconnectDelayMs ?? 100;
    this.#setListening(true);
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#setListening(false);
    void client.end().catch(() => undefined);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#reconnectTimer) return;
    const delay = this.#reconnectDelayMs;
    this.#reconnectDelayMs = Math.min(
      delay * 2,
      Math.max(delay, this.#options.maxReconnectDelayMs ?? 2_000),
    );
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect().catch((error: unknown) => {
        this.#options.logger.debug({ err: error }, 'cluster listener could not reconnect yet');
        this.#scheduleReconnect();
      });
    }, delay);
    this.#reconnectTimer.unref();
  }

  #setListening(listening: boolean): void {
    if (this.#listening === listening) return;
    this.#listening = listening;
    this.#options.logger.info({ listening }, 'cluster listener state');
    this.emit('listening', listening);
  }

  #receive(payload: string): void {
    let parsed: z.infer<typeof wireEvent>;
    try {
      parsed = wireEvent.parse(JSON.parse(payload));
    } catch {
      this.#options.logger.warn('cluster listener: ignored a malformed notification');
      return;
    }
    if (parsed.t !== 'sse') {
      this.emit('event', parsed);
      return;
    }
    const { stream, message, row } = parsed;
    this.emit('event', {
      t: 'sse',
      stream,
      message: async () => (message as JSONRPCMessage | undefined) ?? (await this.#takeRow(row)),
    });
  }

  /** Every instance hears the notification; only the holder reads the row (and deletes it). */
  async #takeRow(id: string | undefined): Promise<JSONRPCMessage | undefined> {
    if (!id) return undefined;
    const row = await this.#options.db
      .deleteFrom('mcp_sse_messages')
      .where('id', '=', id)
      .returning('body')
      .executeTakeFirst();
    return row ? (JSON.parse(row.body) as JSONRPCMessage) : undefined;
  }
}

async function pg_notify(db: Db, channel: string, payload: string): Promise<void> {
  await db
    .selectNoFrom((eb) => eb.fn('pg_notify', [eb.val(channel), eb.val(payload)]).as('sent'))
    .execute();
}
