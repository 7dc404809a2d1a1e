/**
 * The desktop core's one error catalogue (shared by the tray app, the `pm-mcp` CLI and the
 * proxy). Each error has a stable `code`, a message a user can act on, and the CLI exit code.
 */
export const desktopErrorCatalogue = {
  usage: 2,
  not_signed_in: 3,
  server_unreachable: 4,
  invalid_credentials: 5,
  key_rejected: 6,
  keychain_unavailable: 7,
  config_unparseable: 8,
  config_changed_meanwhile: 9,
  config_io: 10,
  insecure_server_url: 11,
  server_error: 12,
  port_in_use: 13,
  not_found: 14,
  unsupported: 15,
  /** The server refused a request for a reason it explains (validation, conflict, rate limit…). */
  request_refused: 16,
  /** The browser sign-in did not complete: refused, cancelled, timed out or answered wrongly. */
  browser_sign_in_failed: 17,
  /** The server turned passwords off (`PM_MCP_PASSWORD_LOGIN=false`): sign in through the browser. */
  password_login_disabled: 18,
} as const;

export type DesktopErrorCode = keyof typeof desktopErrorCatalogue;

export class DesktopError extends Error {
  readonly code: DesktopErrorCode;
  readonly exitCode: number;

  constructor(code: DesktopErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'DesktopError';
    this.code = code;
    this.exitCode = desktopErrorCatalogue[code];
  }
}

export function isDesktopError(error: unknown): error is DesktopError {
  return error instanceof DesktopError;
}
