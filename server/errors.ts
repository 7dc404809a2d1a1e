/**
 * The server's one error catalogue. Every failure a client can see has a stable `code` and an HTTP
 * status; the error middleware turns an `AppError` into `{"error": code, "message": message}`.
 * Anything else becomes a generic 500 that leaks nothing.
 */
export const errorCatalogue = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  invalid_credentials: 401,
  invalid_api_key: 401,
  invalid_token: 401,
  unauthorized: 401,
  user_id_auth_disabled: 401,
  forbidden: 403,
  origin_not_allowed: 403,
  insufficient_scope: 403,
  registration_disabled: 403,
  not_found: 404,
  conflict: 409,
  email_taken: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  misdirected_request: 421,
  provider_rejected: 422,
  too_many_requests: 429,
  too_many_streams: 429,
  internal_error: 500,
  provider_error: 502,
  database_unavailable: 503,
  server_busy: 503,
  shutting_down: 503,
  provider_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>;
  /** Extra, non-secret fields merged into the JSON body (e.g. validation issues). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      cause?: unknown;
      headers?: Record<string, string>;
      details?: Record<string, unknown>;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorCatalogue[code];
    this.headers = options.headers ?? {};
    this.details = options.details;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

export const notFound = (what = 'Resource'): AppError =>
  new AppError('not_found', `${what} not found`);

/**
 * A request field a service refused: named in the message (`field: problem`) and listed in
 * `issues`, exactly as body validation (`parseBody`) reports its fields.
 */
export function fieldError(field: string, problem: string): AppError {
  return new AppError('validation_failed', `${field}: ${problem}`, {
    details: { issues: [{ path: field, message: problem }] },
  });
}
