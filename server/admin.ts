import { AccountService, findUserByEmail, type PublicUser } from './auth/accounts.js';
import { FailureLimiter } from './auth/failure-limiter.js';
import { owaspScryptCost, type PasswordHashingCost } from './auth/passwords.js';
import { AccessTokens } from './auth/session-tokens.js';
import type { ServerConfig } from './config.js';
import { presentConnection, type PublicConnection } from './connections/connections.js';
import { deriveKey } from './crypto.js';
import { createDatabase, type DatabaseHandle } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { AppError, notFound } from './errors.js';
import {
  KeyService,
  type CreatedApiKey,
  type KeyCheckResult,
  type KeyScope,
  type PublicApiKey,
} from './keys/keys.js';

/**
 * The operator's operations, as importable functions (the admin command line is a thin shell
 * over these). Each opens nothing itself: it works on the database handle it is given.
 */
export class AdminOperations {
  readonly #database: DatabaseHandle;
  readonly #keys: KeyService;
  readonly #accounts: AccountService;

  constructor(
    config: ServerConfig,
    database: DatabaseHandle,
    options: { passwordCost?: PasswordHashingCost } = {},
  ) {
    const now = () => new Date();
    this.#database = database;
    this.#keys = new KeyService({
      db: database.db,
      now,
      defaultExpiryDays: config.keys.defaultExpiryDays,
      maxExpiryDays: config.keys.maxExpiryDays,
    });
    this.#accounts = new AccountService({
      db: database.db,
      accessTokens: new AccessTokens(
        deriveKey(config.secretKey, 'access-token'),
        config.accessTokenTtlSeconds,
      ),
      passwordCost: options.passwordCost ?? owaspScryptCost,
      refreshTokenTtlDays: config.refreshTokenTtlDays,
      loginLimiter: new FailureLimiter({ maxFailures: 10, windowMs: 60_000 }),
      now,
    });
  }

  migrate() {
    return migrateToLatest(this.#database.db, { schema: this.#database.schema });
  }

  createUser(email: string, password: string, name?: string): Promise<PublicUser> {
    if (password.length < 8)
      throw new AppError('validation_failed', 'password: must be at least 8 characters');
    return this.#accounts.createUser({ email, password, name: name ?? null });
  }

  async userIdOf(email: string): Promise<string> {
    const user = await findUserByEmail(this.#database.db, email);
    if (!user) throw notFound(`User ${email}`);
    return user.id;
  }

  createUserApiKey(
    userId: string,
    name: string,
    options: { expiresInDays?: number | null; scope?: KeyScope } = {},
  ): Promise<CreatedApiKey> {
    return this.#keys.createKey(userId, { name, ...options });
  }

  listUserKeys(userId: string): Promise<PublicApiKey[]> {
    return this.#keys.listKeys(userId);
  }

  /** Revokes by key id or by its displayed prefix (which must match exactly one key). */
  async revokeKey(idOrPrefix: string): Promise<PublicApiKey> {
    const matches = await this.#database.db
      .selectFrom('user_mcp_api_keys')
      .select(['id', 'user_id'])
      .where((eb) =>
        /^[0-9a-f-]{36}$/i.test(idOrPrefix)
          ? eb('id', '=', idOrPrefix.toLowerCase())
          : eb('key_prefix', '=', idOrPrefix),
      )
      .execute();
    const [match, ...others] = matches;
    if (!match) throw notFound('API key');
    if (others.length > 0)
      throw new AppError('conflict', 'That prefix matches several keys; use the key id');
    await this.#keys.revokeKey(match.user_id, match.id);
    return this.#keys.getKey(match.user_id, match.id);
  }

  checkKey(plaintext: string): Promise<KeyCheckResult> {
    return this.#keys.checkKey(plaintext.trim());
  }

  async listUserProviders(userId: string): Promise<PublicConnection[]> {
    const rows = await this.#database.db
      .selectFrom('pm_provider_connections')
      .selectAll()
      .where('created_by', '=', userId)
      .orderBy('created_at')
      .execute();
    return rows.map(presentConnection);
  }
}

export function openAdmin(config: ServerConfig): {
  admin: AdminOperations;
  close(): Promise<void>;
} {
  const database = createDatabase(config.database);
  return { admin: new AdminOperations(config, database), close: () => database.close() };
}
