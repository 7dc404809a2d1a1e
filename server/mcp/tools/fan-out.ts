/**
 * Runs one provider operation on several connections at once. Each gets its own deadline; a
 * provider that fails or is slow becomes a failure entry while the others' results are kept, so
 * the whole call takes about the slowest *answering* provider, capped at the per-provider timeout
 * — never the sum. The deadline aborts the provider's request too (the client gets the signal).
 */
import type { ProviderClient } from '../../providers/index.js';
import type { ToolConnection } from './context.js';
import { ProviderCallTimeout, describeFailure, type ConnectionFailure } from './failures.js';

export type FanOutOutcome<T> =
  | { connection: ToolConnection; ok: true; value: T }
  | { connection: ToolConnection; ok: false; failure: ConnectionFailure };

export interface FanOutOptions {
  timeoutMs: number;
  /** The MCP request's own cancellation. */
  signal?: AbortSignal | undefined;
  /** Told about errors that are neither provider failures nor timeouts (bugs). */
  onUnexpectedError?: ((error: unknown) => void) | undefined;
}

export function fanOut<T>(
  connections: readonly ToolConnection[],
  operation: (
    client: ProviderClient,
    connection: ToolConnection,
    signal: AbortSignal,
  ) => Promise<T>,
  options: FanOutOptions,
): Promise<FanOutOutcome<T>[]> {
  return Promise.all(connections.map((connection) => runOne(connection, operation, options)));
}

export async function runOne<T>(
  connection: ToolConnection,
  operation: (
    client: ProviderClient,
    connection: ToolConnection,
    signal: AbortSignal,
  ) => Promise<T>,
  { timeoutMs, signal, onUnexpectedError }: FanOutOptions,
): Promise<FanOutOutcome<T>> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onOuterAbort = (): void => controller.abort(signal?.reason);
  // Rejects at the deadline (or on cancellation) even if the operation ignores its signal.
  const deadline = new Promise<never>((_, reject) => {
    const fail = (): void => reject(controller.signal.reason as Error);
    controller.signal.addEventListener('abort', fail, { once: true });
    timer = setTimeout(() => controller.abort(new ProviderCallTimeout(timeoutMs)), timeoutMs);
  });
  deadline.catch(() => undefined); // settled after the race is decided: not an unhandled rejection
  if (signal?.aborted) onOuterAbort();
  else signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    const value = await Promise.race([
      Promise.resolve().then(() => operation(connection.client(), connection, controller.signal)),
      deadline,
    ]);
    return { connection, ok: true, value };
  } catch (error) {
    const failure = describeFailure(connection, error);
    if (failure.error_code === 'internal_error') onUnexpectedError?.(error);
    return { connection, ok: false, failure };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onOuterAbort);
  }
}
