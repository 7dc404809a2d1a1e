import { randomUUID } from 'node:crypto';
import { recordAudit } from '../audit.js';
import type { Db } from '../db/database.js';
import { isUuid, toBool, toIso, type ConnectionRow } from '../db/schema.js';
import { AppError, fieldError, notFound } from '../errors.js';
import {
  decryptCredentials,
  encryptCredentials,
  type ProviderCredentials,
} from './credentials-crypto.js';

export type ProviderType = 'jira' | 'jira_server' | 'openproject';

/** What the API and tools show about a connection: never a secret. */
export interface PublicConnection {
  id: string;
  provider_type: ProviderType;
  name: string;
  base_url: string;
  is_active: boolean;
  created_at: string;
  last_checked_at: string | null;
  last_check_ok: boolean | null;
  last_check_message: string | null;
}

export interface ConnectionSettings {
  providerType: ProviderType;
  baseUrl: string;
  credentials: ProviderCredentials;
}

/** The result of checking credentials against the provider. */
export interface CredentialCheck {
  ok: boolean;
  message: string;
  account?: string;
}

/**
 * `verify`: settings about to be saved (a new connection, a new base URL or credential), whose
 * base URL is not trusted yet. `retest`: a stored connection checked again.
 */
export type CredentialCheckPurpose = 'verify' | 'retest';

/**
 * Checks settings against the provider (and refuses unsafe base URLs). Injected so the
 * connection store knows nothing of provider HTTP.
 */
export type CredentialChecker = (
  settings: ConnectionSettings,
  purpose: CredentialCheckPurpose,
) => Promise<CredentialCheck>;

export interface ConnectionServiceDeps {
  db: Db;
  encryptionKey: Buffer;
  now: () => Date;
  checkCredentials: CredentialChecker;
}

/** A connection of one user, with its decrypted settings available on demand. */
export interface UserConnection extends PublicConnection {
  readonly settings: () => ConnectionSettings;
  /**
   * Changes whenever the connection's settings may have (its `updated_at`, base URL or stored
   * credential): what a cached provider client is checked against.
   */
  readonly revision: string;
}

const keyVersion = 1;
function presentConnection(row: ConnectionRow): PublicConnection {
  return {
    id: row.id,
    provider_type: row.provider_type,
    name: row.name,
    base_url: row.base_url,
    is_active: toBool(row.is_active),
    created_at: toIso(row.created_at),
    last_checked_at: toIso(row.last_checked_at),
    last_check_ok: toBool(row.last_check_ok),
    last_check_message: row.last_check_message,
  };
}

export function normaliseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw fieldError('base_url', 'must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fieldError('base_url', 'must use http or https');
  }
  if (url.username || url.password) throw fieldError('base_url', 'must not contain credentials');
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/+$/, '');
}

/**
 * A PATCH moving a connection to another base URL must carry the credential for it (`api_token`,
 * and `email` for Jira Cloud): sending the stored one would hand a long-lived provider token to
 * whoever holds a short-lived session (issue 10, item 2).
 */
function requireCredentialsForNewHost(
  providerType: ProviderType,
  patch: { email?: string | undefined; apiToken?: string | undefined },
): void {
  const missing: { path: string; message: string }[] = [];
  if (!patch.apiToken) {
    missing.push({
      path: 'api_token',
      message: 'required when base_url changes (the stored credential is never sent to a new host)',
    });
  }
  if (providerType === 'jira' && !patch.email) {
    missing.push({ path: 'email', message: 'required with the API token when base_url changes' });
  }
  if (missing.length === 0) return;
  throw new AppError(
    'validation_failed',
    missing.map((issue) => `${issue.path}: ${issue.message}`).join('; '),
    { details: { issues: missing } },
  );
}

/** Each user's Jira / OpenProject connections, credentials encrypted at rest. */
export class ConnectionService {
  readonly #deps: ConnectionServiceDeps;

  constructor(deps: ConnectionServiceDeps) {
    this.#deps = deps;
  }

  async list(userId: string): Promise<PublicConnection[]> {
    return (await this.#rows(userId)).map(presentConnection);
  }

  /** Checks the credentials against the provider first; a refusal carries the provider's reason. */
  async create(
    userId: string,
    input: {
      providerType: ProviderType;
      name: string;
      baseUrl: string;
      email?: string | undefined;
      apiToken: string;
    },
  ): Promise<PublicConnection> {
    const { db, now } = this.#deps;
    const settings = this.#validated(input.providerType, input.baseUrl, {
      email: input.email,
      apiToken: input.apiToken,
    });
    const check = await this.#deps.checkCredentials(settings, 'verify');
    if (!check.ok) throw new AppError('provider_rejected', check.message);
    const id = randomUUID();
    const timestamp = now().toISOString();
    await db
      .insertInto('pm_provider_connections')
      .values({
        id,
        created_by: userId,
        provider_type: settings.providerType,
        name: input.name.trim(),
        base_url: settings.baseUrl,
        encrypted_credentials: encryptCredentials(
          this.#deps.encryptionKey,
          { userId, connectionId: id, keyVersion },
          settings.credentials,
        ),
        key_version: keyVersion,
        is_active: true,
        created_at: timestamp,
        updated_at: timestamp,
        last_checked_at: timestamp,
        last_check_ok: true,
        last_check_message: check.message,
      })
      .execute();
    await recordAudit(
      db,
      { event: 'provider.created', userId, detail: settings.providerType },
      now(),
    );
    return presentConnection(await this.#owned(userId, id));
  }

  async update(
    userId: string,
    id: string,
    patch: {
      name?: string;
      isActive?: boolean;
      baseUrl?: string;
      email?: string;
      apiToken?: string;
    },
  ): Promise<PublicConnection> {
    const { db, now } = this.#deps;
    const row = await this.#owned(userId, id);
    const changesConnection =
      patch.baseUrl !== undefined || patch.email !== undefined || patch.apiToken !== undefined;
    const update: Record<string, unknown> = { updated_at: now().toISOString() };
    if (patch.name !== undefined) update.name = patch.name.trim();
    if (patch.isActive !== undefined) update.is_active = patch.isActive;
    if (changesConnection) {
      const baseUrl = patch.baseUrl === undefined ? row.base_url : normaliseBaseUrl(patch.baseUrl);
      // The stored credential never goes to another host: a new base URL brings its own.
      if (baseUrl !== row.base_url) requireCredentialsForNewHost(row.provider_type, patch);
      const current = this.#decrypt(row);
      const settings = this.#validated(row.provider_type, baseUrl, {
        email: patch.email ?? current.email,
        apiToken: patch.apiToken ?? current.apiToken,
      });
      const check = await this.#deps.checkCredentials(settings, 'verify');
      if (!check.ok) throw new AppError('provider_rejected', check.message);
      Object.assign(update, {
        base_url: settings.baseUrl,
        encrypted_credentials: encryptCredentials(
          this.#deps.encryptionKey,
          { userId, connectionId: id, keyVersion },
          settings.credentials,
        ),
        key_version: keyVersion,
        last_checked_at: now().toISOString(),
        last_check_ok: true,
        last_check_message: check.message,
      });
    }
    await db
      .updateTable('pm_provider_connections')
      .set(update)
      .where('id', '=', id)
      .where('created_by', '=', userId)
      .execute();
    return presentConnection(await this.#owned(userId, id));
  }

  async remove(userId: string, id: string): Promise<void> {
    const { db, now } = this.#deps;
    const result = await db
      .deleteFrom('pm_provider_connections')
      .where('id', '=', id)
      .where('created_by', '=', userId)
      .executeTakeFirst();
    if (result.numDeletedRows === 0n) throw notFound('Provider connection');
    await recordAudit(db, { event: 'provider.deleted', userId }, now());
  }

  /** Checks the stored credentials now and keeps the result. */
  async test(userId: string, id: string): Promise<CredentialCheck> {
    const row = await this.#owned(userId, id);
    const check = await this.#deps.checkCredentials(this.#settingsOf(row), 'retest');
    await this.recordCheck(userId, id, check);
    return check;
  }

  async recordCheck(userId: string, id: string, check: CredentialCheck): Promise<void> {
    await this.#deps.db
      .updateTable('pm_provider_connections')
      .set({
        last_checked_at: this.#deps.now().toISOString(),
        last_check_ok: check.ok,
        last_check_message: check.message,
      })
      .where('id', '=', id)
      .where('created_by', '=', userId)
      .execute();
  }

  /** This user's connections only: every query is filtered by `created_by`. */
  async forUserConnections(userId: string): Promise<UserConnection[]> {
    return (await this.#rows(userId)).map((row) => this.#userConnection(row));
  }

  async forUserConnection(userId: string, id: string): Promise<UserConnection | undefined> {
    const row = await this.#find(userId, id);
    return row ? this.#userConnection(row) : undefined;
  }

  #userConnection(row: ConnectionRow): UserConnection {
    return {
      ...presentConnection(row),
      settings: () => this.#settingsOf(row),
      revision: `${toIso(row.updated_at)} ${row.key_version} ${row.base_url} ${row.encrypted_credentials}`,
    };
  }

  #settingsOf(row: ConnectionRow): ConnectionSettings {
    return {
      providerType: row.provider_type,
      baseUrl: row.base_url,
      credentials: this.#decrypt(row),
    };
  }

  #decrypt(row: ConnectionRow): ProviderCredentials {
    return decryptCredentials(
      this.#deps.encryptionKey,
      { userId: row.created_by, connectionId: row.id, keyVersion: row.key_version },
      row.encrypted_credentials,
    );
  }

  #validated(
    providerType: ProviderType,
    baseUrl: string,
    credentials: ProviderCredentials,
  ): ConnectionSettings {
    if (providerType === 'jira' && !credentials.email) {
      throw fieldError('email', 'Jira Cloud needs the account email with the API token');
    }
    if (!credentials.apiToken) throw fieldError('api_token', 'required');
    return {
      providerType,
      baseUrl: normaliseBaseUrl(baseUrl),
      credentials: providerType === 'jira' ? credentials : { apiToken: credentials.apiToken },
    };
  }

  #rows(userId: string): Promise<ConnectionRow[]> {
    return this.#deps.db
      .selectFrom('pm_provider_connections')
      .selectAll()
      .where('created_by', '=', userId)
      .orderBy('created_at')
      .execute();
  }

  #find(userId: string, id: string): Promise<ConnectionRow | undefined> {
    // Ids come from tool arguments too; one that is not a UUID cannot exist (and would make
    // PostgreSQL raise a type error).
    if (!isUuid(id)) return Promise.resolve(undefined);
    return this.#deps.db
      .selectFrom('pm_provider_connections')
      .selectAll()
      .where('id', '=', id)
      .where('created_by', '=', userId)
      .executeTakeFirst();
  }

  async #owned(userId: string, id: string): Promise<ConnectionRow> {
    const row = await this.#find(userId, id);
    if (!row) throw notFound('Provider connection');
    return row;
  }
}
