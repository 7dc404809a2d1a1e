/**
 * Runs one provider operation on several connections at once. Each gets its own deadline (and
 * the tool call's, through the signal passed in); a provider that fails or is slow becomes a
 * failure entry while the others' results are kept, so the whole call takes about the slowest
 * *answering* provider, capped at the per-provider timeout — never the sum. The deadline aborts
 * the provider's request too (the client gets the signal).
 */
import type { ProviderClient } from '../../providers/index.js';
import type { ToolConnection } from './context.js';
import { untilAborted } from './deadline.js';
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
  const timer = setTimeout(() => controller.abort(new ProviderCallTimeout(timeoutMs)), timeoutMs);
  // The tool call's own deadline (or the client's cancellation) ends this connection's part too.
  const onOuterAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) onOuterAbort();
  else signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    // Rejects at the deadline (or on cancellation) even if the operation ignores its signal.
    const value = await untilAborted(
      Promise.resolve().then(() => operation(connection.client(), connection, controller.signal)),
      controller.signal,
    );
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
