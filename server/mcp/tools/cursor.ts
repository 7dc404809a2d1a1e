/**
 * The cursor of a fanned-out list: opaque to the model, base64url JSON of each connection's own
 * provider cursor and page size, plus the tool and a fingerprint of the query so a cursor cannot
 * be replayed against different arguments. Connections absent from it are finished (or failed).
 * It holds no secret and grants nothing: every connection id in it is looked up again through the
 * caller's own connections.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export interface ConnectionPosition {
  /** The provider client's cursor for the next page; undefined for its first page. */
  cursor: string | undefined;
  /** The page size this connection was given on the first page (kept so pages line up). */
  limit: number;
  /**
   * Items of that provider page already returned: a page cut short by the result size bound is
   * fetched again and continues after them.
   */
  skip?: number | undefined;
}

export interface FanOutCursor {
  tool: string;
  fingerprint: string;
  positions: Record<string, ConnectionPosition>;
}

const cursorSchema = z.object({
  v: z.literal(1),
  t: z.string(),
  f: z.string(),
  c: z.record(
    z.string(),
    z.union([
      z.tuple([z.string(), z.number().int().min(1).max(1000)]),
      z.tuple([z.string(), z.number().int().min(1).max(1000), z.number().int().min(1).max(1000)]),
    ]),
  ),
});

export function queryFingerprint(tool: string, query: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(query)
      .sort()
      .map((key) => [key, query[key] ?? null]),
  );
  return createHash('sha256').update(`${tool}\n${canonical}`).digest('base64url').slice(0, 16);
}

export function encodeCursor(cursor: FanOutCursor): string | null {
  const entries = Object.entries(cursor.positions);
  if (entries.length === 0) return null;
  const payload = {
    v: 1,
    t: cursor.tool,
    f: cursor.fingerprint,
    // A first page has no provider cursor: '' stands for it.
    c: Object.fromEntries(
      entries.map(([id, position]) => [
        id,
        position.skip
          ? [position.cursor ?? '', position.limit, position.skip]
          : [position.cursor ?? '', position.limit],
      ]),
    ),
  };
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

/** The decoded cursor, or undefined when it is malformed. */
export function decodeCursor(raw: string): FanOutCursor | undefined {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = cursorSchema.safeParse(json);
  if (!parsed.success) return undefined;
  return {
    tool: parsed.data.t,
    fingerprint: parsed.data.f,
    positions: Object.fromEntries(
      Object.entries(parsed.data.c).map(([id, [cursor, limit, skip]]) => [
        id,
        { cursor: cursor === '' ? undefined : cursor, limit, ...(skip ? { skip } : {}) },
      ]),
    ),
  };
}

/** Splits a page of `limit` items among `n` connections (each gets at least one). */
export function splitLimit(limit: number, n: number): number[] {
  const base = Math.floor(limit / n);
  const remainder = limit % n;
  return Array.from({ length: n }, (_, index) => Math.max(1, base + (index < remainder ? 1 : 0)));
}
