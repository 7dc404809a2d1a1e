/**
 * Counts failures per subject (a client address, an account) in a fixed window; once a subject
 * reaches the limit, it is refused until the window ends. Successes are not counted.
 */
export interface FailureLimiterOptions {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly now?: () => number;
}

interface Window {
  failures: number;
  resetsAt: number;
}

export class FailureLimiter {
  readonly #windows = new Map<string, Window>();
  readonly #options: Required<FailureLimiterOptions>;

  constructor(options: FailureLimiterOptions) {
    this.#options = { now: Date.now, ...options };
  }

  /** Seconds until the subject may try again, or 0 when it is not blocked. */
  retryAfterSeconds(subject: string): number {
    const window = this.#current(subject);
    if (!window || window.failures < this.#options.maxFailures) return 0;
    return Math.max(1, Math.ceil((window.resetsAt - this.#options.now()) / 1000));
  }

  recordFailure(subject: string): void {
    const window = this.#current(subject);
    if (window) {
      window.failures += 1;
      return;
    }
    if (this.#windows.size > 100_000) this.#sweep();
    this.#windows.set(subject, {
      failures: 1,
      resetsAt: this.#options.now() + this.#options.windowMs,
    });
  }

  reset(subject: string): void {
    this.#windows.delete(subject);
  }

  #current(subject: string): Window | undefined {
    const window = this.#windows.get(subject);
    if (window && window.resetsAt <= this.#options.now()) {
      this.#windows.delete(subject);
      return undefined;
    }
    return window;
  }

  #sweep(): void {
    const now = this.#options.now();
    for (const [subject, window] of this.#windows)
      if (window.resetsAt <= now) this.#windows.delete(subject);
  }
}
