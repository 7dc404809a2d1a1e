/**
 * The hard deadline of one tool call. Every tool call that waits on providers answers within the
 * provider timeout (`perProviderTimeoutMs`, 10 s by default) of the server starting it: database
 * look-ups, every provider request, 429/503 retry waits and follow-up requests all count, for
 * reads and writes alike. At the deadline the call's signal aborts (provider requests are
 * cancelled, retry waits end); fan-outs answer at once with what the other providers gave, a
 * write with a timeout that says its outcome is unknown. A step that does not heed the signal is
 * cut off by `bound` a moment later.
 */
import { ProviderCallTimeout } from './failures.js';

/** How long after the deadline `bound` waits for the handler's own answer (partial results). */
const answerGraceMs = 250;

export interface CallDeadline {
  /** Aborts at the deadline (reason: `ProviderCallTimeout`) or when the client cancels the call. */
  readonly signal: AbortSignal;
  /** Whether the deadline passed (as opposed to a cancellation). */
  timedOut(): boolean;
  /**
   * How late the deadline's timer ran (ms): the event loop was busy elsewhere (a saturated
   * machine). The call answers that much after its deadline, whatever the code does.
   */
  timerLateMs(): number;
  /** `work`'s outcome, or the abort reason shortly after the signal aborted. */
  bound<T>(work: Promise<T>): Promise<T>;
  clear(): void;
}

export function startCallDeadline(timeoutMs: number, cancelled?: AbortSignal): CallDeadline {
  const controller = new AbortController();
  const due = Date.now() + timeoutMs;
  let lateMs = 0;
  const timer = setTimeout(() => {
    lateMs = Math.max(0, Date.now() - due);
    controller.abort(new ProviderCallTimeout(timeoutMs));
  }, timeoutMs);
  timer.unref();
  const onCancel = (): void => controller.abort(cancelled?.reason);
  if (cancelled?.aborted) onCancel();
  else cancelled?.addEventListener('abort', onCancel, { once: true });
  let grace: NodeJS.Timeout | undefined;
  return {
    signal: controller.signal,
    timedOut: () => controller.signal.reason instanceof ProviderCallTimeout,
    timerLateMs: () => lateMs,
    bound: (work) =>
      Promise.race([
        work,
        new Promise<never>((_, reject) => {
          const late = (): void => {
            grace = setTimeout(() => reject(abortReason(controller.signal)), answerGraceMs);
          };
          if (controller.signal.aborted) late();
          else controller.signal.addEventListener('abort', late, { once: true });
        }),
      ]),
    clear() {
      clearTimeout(timer);
      clearTimeout(grace);
      cancelled?.removeEventListener('abort', onCancel);
    },
  };
}

/** `work`'s outcome, or the signal's reason as soon as it aborts (for work that ignores it). */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('The call was cancelled');
}
