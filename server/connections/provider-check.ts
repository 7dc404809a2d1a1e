import { fieldError } from '../errors.js';
import {
  checkProviderCredentials,
  UnsafeProviderUrlError,
  type ProviderHttpOptions,
} from '../providers/index.js';
import type {
  ConnectionSettings,
  CredentialCheck,
  CredentialChecker,
  CredentialCheckPurpose,
} from './connections.js';

/**
 * Checks stored or submitted credentials against the provider itself. `httpOptions` carries the
 * operator's allow-list (`allowedHosts`) to every check.
 *
 * - `verify` (a connection being created or re-pointed): the base URL is not trusted yet, so the
 *   answer is described by its status only (`hideUpstreamDetails`), and a refused base URL is a
 *   400 naming `base_url`.
 * - `retest` (a stored, once-verified connection): the provider's own reason is shown, and a
 *   refused base URL (its name now resolves elsewhere, or the operator narrowed the allow-list) is
 *   a failed check, recorded like any other.
 */
export function providerCredentialChecker(
  httpOptions: ProviderHttpOptions = {},
): CredentialChecker {
  return async (
    settings: ConnectionSettings,
    purpose: CredentialCheckPurpose,
  ): Promise<CredentialCheck> => {
    try {
      const result = await checkProviderCredentials(
        {
          providerType: settings.providerType,
          baseUrl: settings.baseUrl,
          email: settings.credentials.email,
          apiToken: settings.credentials.apiToken,
        },
        { ...httpOptions, hideUpstreamDetails: purpose === 'verify' },
      );
      return result.ok
        ? { ok: true, message: result.message, account: result.account.displayName }
        : { ok: false, message: result.message };
    } catch (error) {
      if (error instanceof UnsafeProviderUrlError) {
        if (purpose === 'retest') return { ok: false, message: error.message };
        throw fieldError('base_url', error.message);
      }
      throw error;
    }
  };
}
