import { recordAudit } from './audit.js';
import { findUserByEmail, type AccountService, type PublicUser } from './auth/accounts.js';
import type { PasswordHashingCost } from './auth/passwords.js';
import type { ServerConfig } from './config.js';
import type { ConnectionService, PublicConnection } from './connections/connections.js';
import { createDatabase, type DatabaseHandle } from './db/database.js';
import { isUuid } from './db/schema.js';
import { migrateToLatest } from './db/migrate.js';
import { AppError, notFound } from './errors.js';
import type {
  CreatedApiKey,
  KeyCheckResult,
  KeyScope,
  KeyService,
  PublicApiKey,
} from './keys/keys.js';
import { unrestrictedPolicy, validatePolicy } from './keys/policy.js';
import { createAccountServices } from './services.js';

/**
 * The operator's operations, as importable functions (the admin command line is a thin shell
 * over these). Each opens nothing itself: it works on the database handle it is given.
 */
export class AdminOperations {
  readonly #database: DatabaseHandle;
  readonly #keys: KeyService;
  readonly #accounts: AccountService;
  readonly #connections: ConnectionService;

  constructor(
    config: ServerConfig,
    database: DatabaseHandle,
    options: { passwordCost?: PasswordHashingCost } = {},
  ) {
    this.#database = database;
    const services = createAccountServices(config, database.db, {
      now: () => new Date(),
      passwordCost: options.passwordCost,
    });
    this.#keys = services.keys;
    this.#accounts = services.accounts;
    this.#connections = services.connections;
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

  /**
   * Deletes a user with everything of theirs (keys, connections, sessions, streams: the foreign
   * keys cascade). On PostgreSQL every instance hears it at once (the `users` and keys triggers)
   * and closes that user's streams; on SQLite the server's sweep does within seconds.
   */
  async deleteUser(email: string): Promise<{ id: string; email: string; deleted: true }> {
    const user = await findUserByEmail(this.#database.db, email);
    if (!user) throw notFound(`User ${email}`);
    await this.#database.db.deleteFrom('users').where('id', '=', user.id).execute();
    await recordAudit(
      this.#database.db,
      { event: 'user.deleted', userId: user.id, detail: user.email },
      new Date(),
    );
    return { id: user.id, email: user.email, deleted: true };
  }

  async createUserApiKey(
    userId: string,
    name: string,
    options: {
      expiresInDays?: number | null;
      scope?: KeyScope;
      /** Tool names and project entries (server/keys/policy.ts); validated as the API does. */
      allowedTools?: readonly string[] | null;
      allowedProjects?: readonly string[] | null;
    } = {},
  ): Promise<CreatedApiKey> {
    const { allowedTools, allowedProjects, ...rest } = options;
    const connections = allowedProjects
      ? (await this.#connections.list(userId)).map((connection) => ({
          id: connection.id,
          providerType: connection.provider_type,
        }))
      : [];
    const policy = validatePolicy(
      { tools: allowedTools, projects: allowedProjects },
      unrestrictedPolicy,
      connections,
    );
    return this.#keys.createKey(userId, { name, ...rest, policy });
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
        isUuid(idOrPrefix)
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

  listUserProviders(userId: string): Promise<PublicConnection[]> {
    return this.#connections.list(userId);
  }
}

export function openAdmin(config: ServerConfig): {
  admin: AdminOperations;
  close(): Promise<void>;
} {
  const database = createDatabase(config.database);
  return { admin: new AdminOperations(config, database), close: () => database.close() };
}
