/**
 * The provider layer's entry points. Stable; the rest of the server uses only these:
 *
 * - `createProviderClient({ providerType, baseUrl, email?, apiToken }, httpOptions?)` → a
 *   `ProviderClient` for Jira Cloud (`jira`: email + API token, REST v3), Jira Data Center
 *   (`jira_server`: personal access token, REST v2) or OpenProject (`openproject`: API key, v3).
 *   Cheap to build (no request is made); the base-URL guard runs before its first request.
 * - `checkProviderCredentials(settings, httpOptions?)` → `{ ok: true, message, account }` or
 *   `{ ok: false, code, message }` with the provider's reason, for the connections API
 *   ("checked before saved", "last check"). An unsafe base URL is thrown as
 *   `UnsafeProviderUrlError` (a 400 for the caller, not a provider refusal).
 * - `assertSafeProviderBaseUrl(url, { allowedHosts? })`: the SSRF guard on its own, to refuse a URL
 *   early. `httpOptions.allowedHosts` carries the operator's `PM_MCP_PROVIDER_ALLOWED_HOSTS` to
 *   every client; `httpOptions.hideUpstreamDetails` is for a base URL not verified yet.
 *
 * Errors are the typed `ProviderError`s of `./errors.ts`, each with a stable `code`.
 */
import { ProviderValidationError, UnsafeProviderUrlError, isProviderError } from './errors.js';
import type { ProviderHttpOptions } from './http.js';
import { createJiraCloudClient } from './jira/cloud.js';
import { createJiraDataCenterClient } from './jira/data-center.js';
import { createOpenProjectClient } from './openproject/client.js';
import {
  providerDisplayNames,
  type Account,
  type ProviderClient,
  type ProviderType,
} from './types.js';

export { assertSafeProviderBaseUrl, parseAllowedHosts } from './url-guard.js';
export type { ProviderHttpOptions } from './http.js';
export * from './errors.js';
export * from './types.js';

export interface ProviderConnectionSettings {
  providerType: ProviderType;
  baseUrl: string;
  /** Jira Cloud only: the Atlassian account email the API token belongs to. */
  email?: string | null | undefined;
  /** Jira Cloud API token, Jira Data Center personal access token, or OpenProject API key. */
  apiToken: string;
}

export function createProviderClient(
  settings: ProviderConnectionSettings,
  httpOptions: ProviderHttpOptions = {},
): ProviderClient {
  switch (settings.providerType) {
    case 'jira': {
      if (!settings.email) {
        throw new ProviderValidationError('A Jira Cloud connection needs the account email.', {
          fieldErrors: { email: 'required for Jira Cloud' },
        });
      }
      return createJiraCloudClient(
        { baseUrl: settings.baseUrl, email: settings.email, apiToken: settings.apiToken },
        httpOptions,
      );
    }
    case 'jira_server':
      return createJiraDataCenterClient(
        { baseUrl: settings.baseUrl, apiToken: settings.apiToken },
        httpOptions,
      );
    case 'openproject':
      return createOpenProjectClient(
        { baseUrl: settings.baseUrl, apiToken: settings.apiToken },
        httpOptions,
      );
  }
}

export type CredentialCheckResult =
  { ok: true; message: string; account: Account } | { ok: false; code: string; message: string };

/** Checks a credential against its provider; a refusal carries the provider's reason. */
export async function checkProviderCredentials(
  settings: ProviderConnectionSettings,
  httpOptions: ProviderHttpOptions = {},
): Promise<CredentialCheckResult> {
  try {
    const account = await createProviderClient(settings, httpOptions).checkCredentials();
    const who = account.email ? `${account.displayName} <${account.email}>` : account.displayName;
    return {
      ok: true,
      message: `Signed in to ${providerDisplayNames[settings.providerType]} as ${who}.`,
      account,
    };
  } catch (error) {
    if (error instanceof UnsafeProviderUrlError) throw error;
    if (isProviderError(error)) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}
