import { inspect } from 'node:util';
import { expect } from 'vitest';
import type { ProviderHttpOptions } from '../../server/providers/index.js';

/** Small retry bounds so rate-limit tests stay fast; real defaults are in server/providers/http.ts. */
export const fastHttp: ProviderHttpOptions = {
  timeoutMs: 3_000,
  maxAttempts: 3,
  maxRetryWaitMs: 2_000,
  maxTotalRetryWaitMs: 4_000,
  fallbackRetryDelayMs: 10,
  // The fakes listen on loopback, which a provider base URL may not reach by default.
  allowedHosts: ['127.0.0.1'],
};

/** Runs `operation`, expecting it to fail with an error of `type`; returns the error. */
export async function failureOf<E extends Error = Error>(
  operation: () => Promise<unknown>,
  type?: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await operation();
  } catch (error) {
    expect(error).toBeInstanceOf(type ?? Error);
    if (!(error instanceof (type ?? Error))) throw error;
    return error as E;
  }
  throw new Error('expected the operation to fail');
}

/** The value, or a test failure naming what was missing (for indexed seed data). */
export function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`missing ${what}`);
  return value;
}

/** Nothing reachable from the error holds the secret or an Authorization header value. */
export function expectNoSecretIn(error: unknown, secret: string): void {
  const dump = inspect(error, { depth: 8, showHidden: true });
  expect(dump).not.toContain(secret);
  expect(dump).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}/);
  expect(dump).not.toMatch(/Bearer \S{8,}/);
}

export function elapsedSince(start: number): number {
  return performance.now() - start;
}
