import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';

/**
 * Table types. Timestamps are written as ISO-8601 strings and read back as a string (SQLite) or a
 * Date (PostgreSQL `timestamptz`); `toIso` normalises them. Booleans are 0/1 on SQLite.
 */
type Timestamp = ColumnType<string | Date, string, string>;
type NullableTimestamp = ColumnType<string | Date | null, string | null, string | null>;
type Bool = ColumnType<boolean | number, boolean, boolean>;
type NullableBool = ColumnType<boolean | number | null, boolean | null, boolean | null>;

export interface UsersTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UserMcpApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  key_hash: string | null;
  key_prefix: string;
  scope: 'read' | 'write';
  is_active: Bool;
  last_used_at: NullableTimestamp;
  created_at: Timestamp;
  expires_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  /** JSON array of tool names, or null: every tool (server/keys/policy.ts). */
  allowed_tools: string | null;
  /** JSON array of connection ids and `<connection id>:<project key>`, or null: everything. */
  allowed_projects: string | null;
  /** Only ever filled by an import from the original deployment; hashed and emptied on migrate. */
  api_key: string | null;
}

export interface PmProviderConnectionsTable {
  id: string;
  created_by: string;
  provider_type: 'jira' | 'jira_server' | 'openproject';
  name: string;
  base_url: string;
  encrypted_credentials: string;
  key_version: number;
  is_active: Bool;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_checked_at: NullableTimestamp;
  last_check_ok: NullableBool;
  last_check_message: string | null;
}

export interface RefreshTokensTable {
  id: string;
  user_id: string;
  family_id: string;
  token_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: NullableTimestamp;
  replaced_by: string | null;
}

export interface AuditLogTable {
  id: string;
  event: string;
  user_id: string | null;
  key_id: string | null;
  ip: string | null;
  detail: string | null;
  created_at: Timestamp;
}

/** An open legacy SSE stream and the instance holding it (0004_cluster). */
export interface McpSseStreamsTable {
  id: string;
  user_id: string;
  key_id: string | null;
  instance_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

/** A message for a stream on another instance, too large for a NOTIFY payload. */
export interface McpSseMessagesTable {
  id: string;
  stream_id: string;
  body: string;
  created_at: Timestamp;
}

/** What the OAuth authorization server persists, by kind and id (0005_oauth). */
export interface OAuthStoreTable {
  kind: string;
  id: string;
  payload: string;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  expires_at: NullableTimestamp;
  consumed_at: NullableTimestamp;
}

/** A grant a user gave an MCP client: listed and revoked like a key (0005_oauth). */
export interface OAuthGrantsTable {
  id: string;
  grant_id: string;
  user_id: string;
  client_id: string;
  client_name: string;
  scope: string;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  /** The grant's limits (0007_grant_policy): JSON arrays, NULL for no limit. */
  allowed_tools: string | null;
  allowed_projects: string | null;
}

/** An account at an OpenID Connect provider linked to a user (0005_oauth). */
export interface UserIdentitiesTable {
  id: string;
  user_id: string;
  issuer: string;
  subject: string;
  email: string;
  created_at: Timestamp;
  last_login_at: Timestamp;
}

export interface Database {
  users: UsersTable;
  user_mcp_api_keys: UserMcpApiKeysTable;
  pm_provider_connections: PmProviderConnectionsTable;
  refresh_tokens: RefreshTokensTable;
  audit_log: AuditLogTable;
  mcp_sse_streams: McpSseStreamsTable;
  mcp_sse_messages: McpSseMessagesTable;
  oauth_store: OAuthStoreTable;
  oauth_grants: OAuthGrantsTable;
  user_identities: UserIdentitiesTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type ApiKeyRow = Selectable<UserMcpApiKeysTable>;
export type NewApiKeyRow = Insertable<UserMcpApiKeysTable>;
export type ConnectionRow = Selectable<PmProviderConnectionsTable>;
export type NewConnectionRow = Insertable<PmProviderConnectionsTable>;
export type ConnectionUpdate = Updateable<PmProviderConnectionsTable>;

export function toIso(value: string | Date): string;
export function toIso(value: string | Date | null): string | null;
export function toIso(value: string | Date | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

export function toBool(value: boolean | number): boolean;
export function toBool(value: boolean | number | null): boolean | null;
export function toBool(value: boolean | number | null): boolean | null {
  return value === null ? null : Boolean(value);
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every primary key is a UUID: a value that is not one cannot name a row. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value);
}
