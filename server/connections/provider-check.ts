import { AppError } from '../errors.js';
import {
  checkProviderCredentials,
  UnsafeProviderUrlError,
  type ProviderHttpOptions,
} from '../providers/index.js';
import type { ConnectionSettings, CredentialCheck, CredentialChecker } from './connections.js';

/** Checks stored or submitted credentials against the provider itself. */
export function providerCredentialChecker(
  httpOptions: ProviderHttpOptions = {},
): CredentialChecker {
  return async (settings: ConnectionSettings): Promise<CredentialCheck> => {
    try {
      const result = await checkProviderCredentials(
        {
          providerType: settings.providerType,
          baseUrl: settings.baseUrl,
          email: settings.credentials.email,
          apiToken: settings.credentials.apiToken,
        },
        httpOptions,
      );
      return result.ok
        ? { ok: true, message: result.message, account: result.account.displayName }
        : { ok: false, message: result.message };
    } catch (error) {
      if (error instanceof UnsafeProviderUrlError) {
        throw new AppError('validation_failed', `base_url: ${error.message}`);
      }
      throw error;
    }
  };
}
