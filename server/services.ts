import { AccountService } from './auth/accounts.js';
import { createAttemptLimiter, type AttemptLimit } from './auth/failure-limiter.js';
import {
  owaspScryptCost,
  PasswordHashGate,
  type PasswordHashingCapacity,
  type PasswordHashingCost,
} from './auth/passwords.js';
import { AccessTokens } from './auth/session-tokens.js';
import type { ServerConfig } from './config.js';
import { ConnectionService } from './connections/connections.js';
import { providerCredentialChecker } from './connections/provider-check.js';
import { deriveKey } from './crypto.js';
import type { Db } from './db/database.js';
import { KeyService } from './keys/keys.js';
import type { ProviderHttpOptions } from './providers/index.js';

/** The services that own users, their keys and their provider connections. */
export interface AccountServices {
  readonly accessTokens: AccessTokens;
  readonly keys: KeyService;
  readonly accounts: AccountService;
  readonly connections: ConnectionService;
  /** The one gate every password hash of this process goes through. */
  readonly passwordHashing: PasswordHashGate;
}

/** Wrong passwords per account and per address before 429 (OWASP: lock out briefly, not forever). */
export const defaultLoginLimit: AttemptLimit = { maxAttempts: 10, windowMs: 15 * 60_000 };
/** Registrations per address. */
export const defaultRegistrationLimit: AttemptLimit = { maxAttempts: 10, windowMs: 60 * 60_000 };

export interface AccountServicesOptions {
  now: () => Date;
  /** Lower than OWASP only in tests, to keep them fast. */
  passwordCost?: PasswordHashingCost | undefined;
  passwordHashing?: PasswordHashingCapacity | undefined;
  registrationLimit?: AttemptLimit | undefined;
  providerHttp?: ProviderHttpOptions | undefined;
  /** Failures of work done after a response (such as recording a key's last use). */
  onBackgroundError?: ((error: unknown) => void) | undefined;
}

/**
 * The provider HTTP options every provider client of this server uses: the operator's allow-list
 * from the configuration, over whatever timing a caller (tests) set.
 */
export function providerHttpOptions(
  config: ServerConfig,
  options: ProviderHttpOptions | undefined,
): ProviderHttpOptions {
  return { ...options, allowedHosts: config.providerAllowedHosts };
}

/**
 * Builds them from the configuration, the same way for the server and for the operator's
 * commands, so both derive the same secrets and apply the same key lifetimes.
 */
export function createAccountServices(
  config: ServerConfig,
  db: Db,
  options: AccountServicesOptions,
): AccountServices {
  const { now } = options;
  const accessTokens = new AccessTokens(
    deriveKey(config.secretKey, 'access-token'),
    config.accessTokenTtlSeconds,
  );
  const keys = new KeyService({
    db,
    now,
    defaultExpiryDays: config.keys.defaultExpiryDays,
    maxExpiryDays: config.keys.maxExpiryDays,
    ...(options.onBackgroundError ? { onBackgroundError: options.onBackgroundError } : {}),
  });
  const passwordHashing = new PasswordHashGate(options.passwordHashing);
  const database = { kind: config.database.kind, db };
  const accounts = new AccountService({
    db,
    accessTokens,
    passwordCost: options.passwordCost ?? owaspScryptCost,
    passwordHashing,
    refreshTokenTtlDays: config.refreshTokenTtlDays,
    loginLimiter: createAttemptLimiter(database, 'login', defaultLoginLimit),
    registrationLimiter: createAttemptLimiter(
      database,
      'register',
      options.registrationLimit ?? defaultRegistrationLimit,
    ),
    now,
  });
  const connections = new ConnectionService({
    db,
    encryptionKey: deriveKey(config.secretKey, 'provider-credentials'),
    now,
    checkCredentials: providerCredentialChecker(providerHttpOptions(config, options.providerHttp)),
  });
  return { accessTokens, keys, accounts, connections, passwordHashing };
}
