/**
 * The provider layer's error catalogue. Every failure talking to Jira or OpenProject becomes one of
 * these, with a stable `code` the tools show to the model and the connections API can map to an
 * HTTP status. Messages are written for a person ("the Jira Cloud API token was rejected …") and
 * never contain a credential: the raw axios error (whose config holds the Authorization header) is
 * never chained as a cause.
 */

export type ProviderErrorCode =
  | 'provider_auth_failed'
  | 'provider_forbidden'
  | 'provider_not_found'
  | 'provider_validation_failed'
  | 'provider_conflict'
  | 'provider_rate_limited'
  | 'provider_unavailable'
  | 'provider_timeout'
  | 'provider_bad_response'
  | 'provider_url_refused'
  | 'provider_error';

export interface ProviderErrorOptions {
  /** The provider's HTTP status, when there was an answer. */
  status?: number | undefined;
  /** A sanitised cause (never an axios error, which carries request headers). */
  cause?: unknown;
}

export class ProviderError extends Error {
  readonly code: ProviderErrorCode;
  readonly status: number | undefined;

  constructor(code: ProviderErrorCode, message: string, options: ProviderErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProviderError';
    this.code = code;
    this.status = options.status;
  }
}

/**
 * The provider did not accept the credential (401, or Jira's `X-Seraph-LoginReason:
 * AUTHENTICATED_FAILED | AUTHENTICATION_DENIED`, which can come with a 200 and an empty list).
 */
export class ProviderAuthError extends ProviderError {
  constructor(
    message: string,
    options: ProviderErrorOptions = {},
    code: ProviderErrorCode = 'provider_auth_failed',
  ) {
    super(code, message, options);
    this.name = 'ProviderAuthError';
  }
}

/**
 * 403: the credential works but this account may not do this. A `ProviderAuthError` (the brief maps
 * 401 and 403 together) with its own code, because the fix differs: permissions, not a new token.
 */
export class ProviderForbiddenError extends ProviderAuthError {
  constructor(message: string, options: ProviderErrorOptions = {}) {
    super(message, options, 'provider_forbidden');
    this.name = 'ProviderForbiddenError';
  }
}

export class ProviderNotFoundError extends ProviderError {
  constructor(message: string, options: ProviderErrorOptions = {}) {
    super('provider_not_found', message, options);
    this.name = 'ProviderNotFoundError';
  }
}

/** The provider refused the input (400/422), with its field messages when it gave any. */
export class ProviderValidationError extends ProviderError {
  readonly fieldErrors: Readonly<Record<string, string>>;

  constructor(
    message: string,
    options: ProviderErrorOptions & { fieldErrors?: Record<string, string> } = {},
  ) {
    super('provider_validation_failed', message, options);
    this.name = 'ProviderValidationError';
    this.fieldErrors = options.fieldErrors ?? {};
  }
}

/** `transitionIssue` got a status name that matches no reachable status. */
export class UnknownStatusError extends ProviderValidationError {
  readonly requestedStatus: string;
  readonly reachableStatuses: readonly string[];

  constructor(requestedStatus: string, reachableStatuses: string[], currentStatus?: string) {
    const reachable = reachableStatuses.length > 0 ? reachableStatuses.join(', ') : 'none';
    const current = currentStatus === undefined ? '' : ` (current status: ${currentStatus})`;
    super(
      `No status named "${requestedStatus}" can be reached from here${current}. Reachable statuses: ${reachable}.`,
    );
    this.name = 'UnknownStatusError';
    this.requestedStatus = requestedStatus;
    this.reachableStatuses = reachableStatuses;
  }
}

/** 409, e.g. OpenProject's `UpdateConflict` when a re-read and retry still lost the race. */
export class ProviderConflictError extends ProviderError {
  constructor(message: string, options: ProviderErrorOptions = {}) {
    super('provider_conflict', message, options);
    this.name = 'ProviderConflictError';
  }
}

export class ProviderRateLimitError extends ProviderError {
  /** What the provider asked us to wait, when it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    message: string,
    options: ProviderErrorOptions & { retryAfterSeconds?: number } = {},
  ) {
    super('provider_rate_limited', message, options);
    this.name = 'ProviderRateLimitError';
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Network errors, timeouts and 5xx: the provider could not be reached or could not answer. */
export class ProviderUnavailableError extends ProviderError {
  constructor(message: string, options: ProviderErrorOptions & { timedOut?: boolean } = {}) {
    super(options.timedOut ? 'provider_timeout' : 'provider_unavailable', message, options);
    this.name = 'ProviderUnavailableError';
  }
}

/** The answer was not what this provider's API sends (HTML login page, wrong shape, redirect). */
export class ProviderResponseError extends ProviderError {
  constructor(message: string, options: ProviderErrorOptions = {}) {
    super('provider_bad_response', message, options);
    this.name = 'ProviderResponseError';
  }
}

/** `assertSafeProviderBaseUrl` refused the base URL (scheme, credentials, metadata address). */
export class UnsafeProviderUrlError extends ProviderError {
  constructor(message: string) {
    super('provider_url_refused', message);
    this.name = 'UnsafeProviderUrlError';
  }
}

export function isProviderError(error: unknown): error is ProviderError {
  return error instanceof ProviderError;
}
