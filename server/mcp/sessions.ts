import type { Request, Response } from 'express';
import type { Principal } from '../auth/authenticate.js';

/** An open MCP session (Streamable HTTP) or stream (legacy SSE), bound to who opened it. */
export interface McpSession {
  readonly id: string;
  readonly transport: 'streamable' | 'sse';
  readonly userId: string;
  /** The key that opened it; null for session-token or X-User-ID callers. */
  readonly keyId: string | null;
  /** Hands one authenticated request on this session to its transport. */
  handle(req: Request, res: Response): Promise<void>;
  close(): Promise<void>;
}

/**
 * The open sessions of this server instance. A session id is never authentication: every request
 * on it is authenticated afresh and must come from the same user and key that opened it.
 */
export class SessionRegistry {
  readonly #sessions = new Map<string, McpSession>();

  get size(): number {
    return this.#sessions.size;
  }

  add(session: McpSession): void {
    this.#sessions.set(session.id, session);
  }

  remove(id: string): void {
    this.#sessions.delete(id);
  }

  /** The session, if it exists, has this transport, and belongs to this caller; else undefined. */
  find(
    id: string,
    transport: McpSession['transport'],
    principal: Principal,
  ): McpSession | undefined {
    const session = this.#sessions.get(id);
    if (!session || session.transport !== transport) return undefined;
    if (session.userId !== principal.userId || session.keyId !== principal.keyId) return undefined;
    return session;
  }

  keyIds(): string[] {
    const ids = new Set<string>();
    for (const session of this.#sessions.values())
      if (session.keyId !== null) ids.add(session.keyId);
    return [...ids];
  }

  async closeByKey(keyId: string): Promise<number> {
    const matching = [...this.#sessions.values()].filter((session) => session.keyId === keyId);
    await Promise.allSettled(matching.map((session) => this.#close(session)));
    return matching.length;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.#sessions.values()].map((session) => this.#close(session)));
  }

  async #close(session: McpSession): Promise<void> {
    this.#sessions.delete(session.id);
    await session.close();
  }
}
