import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/**
 * Counts attempts per subject (a client address, an account, a key prefix) in a fixed window;
 * once a subject has more than `maxAttempts` in its window, it is over the limit until the window
 * ends. What counts as an attempt is the caller's choice: failed authentications, password checks
 * reserved before hashing, registrations.
 */
export interface AttemptLimit {
  readonly maxAttempts: number;
  readonly windowMs: number;
}

export interface AttemptLimiter {
  /**
   * Counts one attempt for each subject, atomically (concurrent calls never see the same count),
   * and answers the seconds until the most limited of them may try again: 0 while every subject
   * is within its limit.
   */
  count(subjects: readonly string[]): Promise<number>;
  /** Takes back one counted attempt (a reserved attempt that turned out to succeed). */
  uncount(subjects: readonly string[]): Promise<void>;
  /** Forgets the subjects' counts (e.g. an account after a successful sign-in). */
  reset(subjects: readonly string[]): Promise<void>;
}

interface Window {
  attempts: number;
  resetsAt: number;
}

const secondsUntil = (resetsAt: number, now: number) =>
  Math.max(1, Math.ceil((resetsAt - now) / 1000));

/** One process's counts: SQLite deployments are a single instance. */
export class MemoryAttemptLimiter implements AttemptLimiter {
  readonly #windows = new Map<string, Window>();
  readonly #limit: AttemptLimit;
  readonly #now: () => number;

  constructor(limit: AttemptLimit, now: () => number = Date.now) {
    this.#limit = limit;
    this.#now = now;
  }

  count(subjects: readonly string[]): Promise<number> {
    const now = this.#now();
    let retryAfter = 0;
    for (const subject of subjects) {
      let window = this.#current(subject, now);
      if (!window) {
        if (this.#windows.size > 100_000) this.#sweep(now);
        window = { attempts: 0, resetsAt: now + this.#limit.windowMs };
        this.#windows.set(subject, window);
      }
      window.attempts += 1;
      if (window.attempts > this.#limit.maxAttempts) {
        retryAfter = Math.max(retryAfter, secondsUntil(window.resetsAt, now));
      }
    }
    return Promise.resolve(retryAfter);
  }

  uncount(subjects: readonly string[]): Promise<void> {
    const now = this.#now();
    for (const subject of subjects) {
      const window = this.#current(subject, now);
      if (window && window.attempts > 0) window.attempts -= 1;
    }
    return Promise.resolve();
  }

  reset(subjects: readonly string[]): Promise<void> {
    for (const subject of subjects) this.#windows.delete(subject);
    return Promise.resolve();
  }

  #current(subject: string, now: number): Window | undefined {
    const window = this.#windows.get(subject);
    if (window && window.resetsAt <= now) {
      this.#windows.delete(subject);
      return undefined;
    }
    return window;
  }

  #sweep(now: number): void {
    for (const [subject, window] of this.#windows)
      if (window.resetsAt <= now) this.#windows.delete(subject);
  }
}

/**
 * Counts shared by every instance on one PostgreSQL database, in the UNLOGGED table
 * `auth_limits` (migration 0003: counters are not worth a WAL write, and a crash may forget
 * them). One upsert per call increments every subject atomically; the database's clock decides
 * the windows, so instances with drifting clocks agree. Expired rows are deleted at most once a
 * minute per instance.
 */
export class PostgresAttemptLimiter implements AttemptLimiter {
  readonly #db: Db;
  readonly #limit: AttemptLimit;
  /** Keeps limiters of different purposes apart in the one table. */
  readonly #namespace: string;
  #lastExpiry = 0;

  constructor(db: Db, namespace: string, limit: AttemptLimit) {
    this.#db = db;
    this.#namespace = namespace;
    this.#limit = limit;
  }

  async count(subjects: readonly string[]): Promise<number> {
    if (subjects.length === 0) return 0;
    this.#expireOldRows();
    const windowMs = this.#limit.windowMs;
    // One row per subject, always in the same order: concurrent upserts lock rows alike.
    const ordered = [...new Set(subjects)].sort();
    const rows = sql.join(
      ordered.map(
        (subject) =>
          sql`(${this.#key(subject)}, 1, clock_timestamp() + ${windowMs}::integer * interval '1 millisecond')`,
      ),
    );
    const result = await sql<{ attempts: number; retry_after: number }>`
      insert into auth_limits as existing (subject, attempts, resets_at) values ${rows}
      on conflict (subject) do update set
        attempts = case when existing.resets_at <= clock_timestamp() then 1
                        else existing.attempts + 1 end,
        resets_at = case when existing.resets_at <= clock_timestamp() then excluded.resets_at
                         else existing.resets_at end
      returning attempts,
        greatest(1, ceil(extract(epoch from (resets_at - clock_timestamp()))))::integer as retry_after`.execute(
      this.#db,
    );
    let retryAfter = 0;
    for (const row of result.rows) {
      if (row.attempts > this.#limit.maxAttempts)
        retryAfter = Math.max(retryAfter, row.retry_after);
    }
    return retryAfter;
  }

  async uncount(subjects: readonly string[]): Promise<void> {
    if (subjects.length === 0) return;
    await sql`update auth_limits set attempts = attempts - 1
      where subject in (${sql.join(subjects.map((subject) => this.#key(subject)))})
        and attempts > 0 and resets_at > clock_timestamp()`.execute(this.#db);
  }

  async reset(subjects: readonly string[]): Promise<void> {
    if (subjects.length === 0) return;
    await sql`delete from auth_limits
      where subject in (${sql.join(subjects.map((subject) => this.#key(subject)))})`.execute(
      this.#db,
    );
  }

  #key(subject: string): string {
    return `${this.#namespace}:${subject}`;
  }

  #expireOldRows(): void {
    const now = Date.now();
    if (now - this.#lastExpiry < 60_000) return;
    this.#lastExpiry = now;
    // Best effort: a failure here only leaves expired rows for the next sweep.
    sql`delete from auth_limits where resets_at <= clock_timestamp()`
      .execute(this.#db)
      .catch(() => undefined);
  }
}

/** The shared limiter with PostgreSQL, an in-process one with SQLite (SPEC §3.5). */
export function createAttemptLimiter(
  database: { kind: 'sqlite' | 'postgres'; db: Db },
  namespace: string,
  limit: AttemptLimit,
): AttemptLimiter {
  return database.kind === 'postgres'
    ? new PostgresAttemptLimiter(database.db, namespace, limit)
    : new MemoryAttemptLimiter(limit);
}
