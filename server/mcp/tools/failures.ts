/**
 * How a provider failure reads in a tool result: a stable `error_code` and a message that says what
 * to do. A dead credential says so plainly and how to replace it — never "no projects". Unknown
 * errors become a generic message that leaks nothing.
 */
import {
  isProviderError,
  ProviderAuthError,
  ProviderForbiddenError,
  providerDisplayNames,
  UnknownStatusError,
} from '../../providers/index.js';
import type { ToolConnection } from './context.js';

export interface ConnectionFailure {
  connection_id: string;
  name: string;
  provider_type: ToolConnection['providerType'];
  error_code: string;
  message: string;
}

export const howToAddConnection =
  'Add one in the PM MCP desktop app (Providers page), with `pm-mcp providers add`, or with `POST /api/users/me/providers`.';

/** Raised by the fan-out when a provider does not answer in time. */
export class ProviderCallTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`did not answer within ${formatSeconds(timeoutMs)}`);
    this.name = 'ProviderCallTimeout';
  }
}

export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

export function describeFailure(connection: ToolConnection, error: unknown): ConnectionFailure {
  const base = {
    connection_id: connection.id,
    name: connection.name,
    provider_type: connection.providerType,
  };
  const label = providerDisplayNames[connection.providerType];
  if (error instanceof ProviderCallTimeout) {
    return {
      ...base,
      error_code: 'provider_timeout',
      message: `${label} connection "${connection.name}" ${error.message}; its results are missing from this answer. Try again later.`,
    };
  }
  if (error instanceof ProviderForbiddenError) {
    return {
      ...base,
      error_code: error.code,
      message: `${error.message} The account behind "${connection.name}" lacks the permission for this.`,
    };
  }
  if (error instanceof ProviderAuthError) {
    const secret =
      connection.providerType === 'openproject'
        ? 'API key'
        : connection.providerType === 'jira'
          ? 'API token'
          : 'personal access token';
    return {
      ...base,
      error_code: error.code,
      message:
        `The credential of ${label} connection "${connection.name}" no longer works: ${error.message} ` +
        `Create a new ${secret} in ${label} and update the connection (PM MCP app → Providers, or ` +
        `\`PATCH /api/users/me/providers/${connection.id}\` with a new api_token; or remove it and add it again with \`pm-mcp providers add\`).`,
    };
  }
  if (isProviderError(error)) return { ...base, error_code: error.code, message: error.message };
  return {
    ...base,
    error_code: 'internal_error',
    message: `Something went wrong while talking to ${label} connection "${connection.name}".`,
  };
}

/**
 * As `describeFailure`, for a write: a timeout there leaves the outcome unknown (the provider may
 * have acted on a request it did not answer in time), and the message says so.
 */
export function describeWriteFailure(
  connection: ToolConnection,
  error: unknown,
): ConnectionFailure {
  const failure = describeFailure(connection, error);
  if (failure.error_code !== 'provider_timeout') return failure;
  const label = providerDisplayNames[connection.providerType];
  const what =
    error instanceof ProviderCallTimeout
      ? `${label} connection "${connection.name}" ${error.message}.`
      : failure.message;
  return {
    ...failure,
    message: `${what} The change may or may not have been made: check (e.g. with get_issue) before trying again.`,
  };
}

export function isUnknownStatus(error: unknown): error is UnknownStatusError {
  return error instanceof UnknownStatusError;
}
