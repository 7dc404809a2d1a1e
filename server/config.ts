import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { allToolNames } from './mcp/tools/names.js';
import { parseAllowedHosts } from './providers/url-guard.js';

/**
 * The server's configuration, read from the environment once at start and frozen. A bad value
 * stops the server with a message naming the variable (`ConfigError`).
 */
export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  readonly database: DatabaseTarget;
  /** 32 bytes; encrypts provider credentials and signs session tokens. Never logged. */
  readonly secretKey: Buffer;
  readonly allowUserIdAuth: boolean;
  readonly allowRegistration: boolean;
  readonly allowedOrigins: readonly string[];
  /**
   * The server's external URL (behind a TLS proxy), without a trailing slash: its host is the
   * accepted `Host` and its origin counts as the server's own. Null when not configured.
   */
  readonly publicUrl: string | null;
  /**
   * Which proxies' `X-Forwarded-For` decides the client address, with Express's `trust proxy`
   * meaning: a hop count (0: none, the default) or addresses, CIDR ranges and Express's names.
   */
  readonly trustProxy: TrustProxy;
  readonly logLevel: LogLevel;
  readonly keys: {
    /** Applied when a key is created without `expires_in_days`; null means no expiry. */
    readonly defaultExpiryDays: number | null;
    /** The longest lifetime a key may be given; null lets keys live without expiry. */
    readonly maxExpiryDays: number | null;
  };
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlDays: number;
  /**
   * `PM_MCP_PROVIDER_ALLOWED_HOSTS`: host names, `*.domain`, addresses and CIDR ranges a provider
   * base URL may reach although loopback, private or link-local (refused otherwise).
   */
  readonly providerAllowedHosts: readonly string[];
  /** OAuth for MCP clients, SSO, password sign-in (SPEC §3.10): the block at the end. */
  readonly oauth: OAuthConfig;
  /**
   * `PM_MCP_TOOLS`: the tools this server offers anyone (null: all). The others do not exist for
   * any user; per-key limits narrow this further.
   */
  readonly enabledTools: readonly string[] | null;
  /** `PM_MCP_READ_ONLY=true`: no write tool for anyone, whatever the key's scope. */
  readonly readOnly: boolean;
}

export type DatabaseTarget =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string };

export type TrustProxy = number | readonly string[];

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const originList = z.string().transform((value, context) => {
  const origins: string[] = [];
  for (const raw of value.split(',').map((part) => part.trim())) {
    if (raw === '') continue;
    let origin: string;
    try {
      origin = new URL(raw).origin;
    } catch {
      origin = 'null';
    }
    if (origin === 'null' || raw === '*') {
      context.addIssue({
        code: 'custom',
        message: `has an invalid origin "${raw}" (wildcards are not allowed)`,
      });
      return z.NEVER;
    }
    origins.push(origin);
  }
  return origins;
});

/** Express's names for address ranges (proxy-addr): loopback, link-local, unique-local. */
const trustProxyNames = new Set(['loopback', 'linklocal', 'uniquelocal']);

const trustProxy = z.string().transform((value, context): TrustProxy => {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    const hops = Number(trimmed);
    if (hops <= 10) return hops;
  }
  const entries = trimmed.split(',').map((part) => part.trim());
  for (const entry of entries) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const validPrefix =
      prefix === undefined ||
      (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (trustProxyNames.has(entry) || (family !== 0 && validPrefix && rest.length === 0)) continue;
    context.addIssue({
      code: 'custom',
      message: `has an invalid entry "${entry}": use a hop count (0-10), or a comma list of addresses, CIDR ranges, loopback, linklocal, uniquelocal`,
    });
    return z.NEVER;
  }
  return entries;
});

const publicUrl = z.string().transform((value, context) => {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    context.addIssue({ code: 'custom', message: 'must be an absolute http:// or https:// URL' });
    return z.NEVER;
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password) {
    context.addIssue({
      code: 'custom',
      message: 'must be an http:// or https:// URL without user name or password',
    });
    return z.NEVER;
  }
  if (url.search || url.hash) {
    context.addIssue({ code: 'custom', message: 'must not have a query or a fragment' });
    return z.NEVER;
  }
  return url.href.replace(/\/+$/, '');
});

const positiveDays = z.coerce
  .number({ error: 'must be a number of days' })
  .int()
  .positive()
  .max(3650);

const envSchema = z.object({
  PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).default(8080),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  DATABASE_URL: z.string().trim().min(1).default('sqlite:./data/pm-mcp.sqlite'),
  PM_MCP_SECRET_KEY: z
    .string()
    .trim()
    .regex(/^[0-9a-fA-F]{64}$/, { message: 'must be 32 bytes written as 64 hex characters' })
    .optional(),
  PM_MCP_ALLOW_USER_ID_AUTH: booleanFlag.default(false),
  PM_MCP_ALLOW_REGISTRATION: booleanFlag.default(true),
  PM_MCP_ALLOWED_ORIGINS: originList.default([]),
  PM_MCP_PUBLIC_URL: publicUrl.optional(),
  PM_MCP_TRUST_PROXY: trustProxy.default(0),
  LOG_LEVEL: z.enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` }).default('info'),
  PM_MCP_KEY_DEFAULT_EXPIRY_DAYS: z.union([z.literal('none'), positiveDays]).default(90),
  PM_MCP_KEY_MAX_EXPIRY_DAYS: z.union([z.literal('none'), positiveDays]).default(365),
  PM_MCP_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
  PM_MCP_REFRESH_TOKEN_TTL_DAYS: positiveDays.default(30),
  PM_MCP_PROVIDER_ALLOWED_HOSTS: z
    .string()
    .transform((value, context) => {
      try {
        return parseAllowedHosts(value);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .default([]),
  PM_MCP_TOOLS: z
    .string()
    .transform((value, context) => {
      const names = value
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '');
      const unknown = names.filter((name) => !allToolNames.includes(name));
      if (unknown.length > 0 || names.length === 0) {
        context.addIssue({
          code: 'custom',
          message: `${names.length === 0 ? 'names no tool' : `names unknown tool(s) ${unknown.join(', ')}`}: use a comma-separated list of ${allToolNames.join(', ')}`,
        });
        return z.NEVER;
      }
      return [...new Set(names)];
    })
    .optional(),
  PM_MCP_READ_ONLY: booleanFlag.default(false),
});

function parseDatabaseUrl(value: string): DatabaseTarget {
  if (value.startsWith('sqlite:')) {
    const file = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') throw new ConfigError('DATABASE_URL', 'must name a file after "sqlite:"');
    return { kind: 'sqlite', path: file };
  }
  if (/^postgres(ql)?:\/\//.test(value)) {
    try {
      new URL(value);
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid postgres:// URL');
    }
    return { kind: 'postgres', url: value };
  }
  throw new ConfigError('DATABASE_URL', 'must start with "sqlite:" or "postgres://"');
}

/**
 * With SQLite and no key configured, a key is generated once into the data folder (mode 0600) so
 * that a single-machine install needs no setup. PostgreSQL deployments must configure one.
 */
function loadOrCreateSecretKey(database: DatabaseTarget, configured: string | undefined): Buffer {
  if (configured !== undefined) return Buffer.from(configured, 'hex');
  if (database.kind === 'postgres') {
    throw new ConfigError('PM_MCP_SECRET_KEY', 'is required with PostgreSQL (64 hex characters)');
  }
  if (database.path === ':memory:') return randomBytes(32);
  const folder = path.dirname(path.resolve(database.path));
  const file = path.join(folder, 'secret.key');
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  const hex = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new ConfigError('PM_MCP_SECRET_KEY', `file ${file} does not hold 64 hex characters`);
  }
  return Buffer.from(hex, 'hex');
}

export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = issue ? String(issue.path[0] ?? 'environment') : 'environment';
    throw new ConfigError(variable, issue?.message ?? 'is invalid');
  }
  const values = parsed.data;
  const database = parseDatabaseUrl(values.DATABASE_URL);
  const noneAsNull = (days: number | 'none') => (days === 'none' ? null : days);
  const defaultExpiryDays = noneAsNull(values.PM_MCP_KEY_DEFAULT_EXPIRY_DAYS);
  const maxExpiryDays = noneAsNull(values.PM_MCP_KEY_MAX_EXPIRY_DAYS);
  if (maxExpiryDays !== null && (defaultExpiryDays ?? Infinity) > maxExpiryDays) {
    throw new ConfigError(
      'PM_MCP_KEY_DEFAULT_EXPIRY_DAYS',
      defaultExpiryDays === null
        ? 'cannot be none while PM_MCP_KEY_MAX_EXPIRY_DAYS caps key lifetimes (set both to none)'
        : 'must not exceed PM_MCP_KEY_MAX_EXPIRY_DAYS',
    );
  }
  return Object.freeze({
    port: values.PORT,
    host: values.HOST,
    database,
    secretKey: loadOrCreateSecretKey(database, values.PM_MCP_SECRET_KEY),
    allowUserIdAuth: values.PM_MCP_ALLOW_USER_ID_AUTH,
    allowRegistration: values.PM_MCP_ALLOW_REGISTRATION,
    allowedOrigins: Object.freeze(values.PM_MCP_ALLOWED_ORIGINS),
    publicUrl: values.PM_MCP_PUBLIC_URL ?? null,
    trustProxy:
      typeof values.PM_MCP_TRUST_PROXY === 'number'
        ? values.PM_MCP_TRUST_PROXY
        : Object.freeze([...values.PM_MCP_TRUST_PROXY]),
    logLevel: values.LOG_LEVEL,
    keys: Object.freeze({ defaultExpiryDays, maxExpiryDays }),
    accessTokenTtlSeconds: values.PM_MCP_ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlDays: values.PM_MCP_REFRESH_TOKEN_TTL_DAYS,
    providerAllowedHosts: values.PM_MCP_PROVIDER_ALLOWED_HOSTS,
    oauth: loadOAuthConfig(present, values.PM_MCP_PUBLIC_URL ?? null),
    enabledTools: values.PM_MCP_TOOLS ? Object.freeze(values.PM_MCP_TOOLS) : null,
    readOnly: values.PM_MCP_READ_ONLY,
  });
}

// ---- OAuth and SSO (SPEC §3.10) ----

export interface OidcConfig {
  /** The identity provider's issuer URL (discovery at `<issuer>/.well-known/openid-configuration`). */
  readonly issuer: string;
  readonly clientId: string;
  /** Never logged. */
  readonly clientSecret: string;
  /** Lower-case email domains allowed to sign in; empty: any verified email. */
  readonly allowedDomains: readonly string[];
}

export interface OAuthConfig {
  /** The authorization server and OAuth on `/mcp`: on when the public URL is set, unless `PM_MCP_OAUTH=false`. */
  readonly enabled: boolean;
  /** `PM_MCP_PASSWORD_LOGIN` (default true): passwords accepted at sign-in. */
  readonly passwordLogin: boolean;
  readonly oidc: OidcConfig | null;
}

const httpUrl = (variable: string) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          const url = new URL(value);
          return (
            (url.protocol === 'https:' || url.protocol === 'http:') && !url.search && !url.hash
          );
        } catch {
          return false;
        }
      },
      { message: `must be an http(s) URL without query or fragment (${variable})` },
    )
    .transform((value) => value.replace(/\/+$/, ''));

const oauthEnvSchema = z.object({
  PM_MCP_OAUTH: booleanFlag.optional(),
  PM_MCP_PASSWORD_LOGIN: booleanFlag.default(true),
  PM_MCP_OIDC_ISSUER: httpUrl('PM_MCP_OIDC_ISSUER').optional(),
  PM_MCP_OIDC_CLIENT_ID: z.string().trim().min(1).max(500).optional(),
  PM_MCP_OIDC_CLIENT_SECRET: z.string().trim().min(1).max(2000).optional(),
  PM_MCP_OIDC_ALLOWED_DOMAINS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((domain) => domain.trim().toLowerCase().replace(/^@/, ''))
        .filter((domain) => domain !== ''),
    )
    .pipe(
      z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, { message: 'must list email domains' })),
    )
    .default([]),
});

/** `publicUrl`: `PM_MCP_PUBLIC_URL` as the main schema parsed it (the issuer). */
function loadOAuthConfig(
  present: Record<string, string | undefined>,
  publicUrl: string | null,
): OAuthConfig {
  const parsed = oauthEnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue?.path[0] ?? 'environment'), issue?.message ?? 'is invalid');
  }
  const values = parsed.data;
  const enabled = values.PM_MCP_OAUTH ?? publicUrl !== null;
  if (enabled && publicUrl === null) {
    throw new ConfigError(
      'PM_MCP_OAUTH',
      'needs PM_MCP_PUBLIC_URL (the OAuth issuer must be a stable URL)',
    );
  }
  const oidcParts = [
    ['PM_MCP_OIDC_ISSUER', values.PM_MCP_OIDC_ISSUER],
    ['PM_MCP_OIDC_CLIENT_ID', values.PM_MCP_OIDC_CLIENT_ID],
    ['PM_MCP_OIDC_CLIENT_SECRET', values.PM_MCP_OIDC_CLIENT_SECRET],
  ] as const;
  const missing = oidcParts.find(([, value]) => value === undefined);
  const anySet = oidcParts.some(([, value]) => value !== undefined);
  if (anySet && missing) {
    throw new ConfigError(missing[0], 'is required when any PM_MCP_OIDC_* variable is set');
  }
  if (anySet && !enabled) {
    throw new ConfigError('PM_MCP_OIDC_ISSUER', 'needs OAuth on (set PM_MCP_PUBLIC_URL)');
  }
  const oidc: OidcConfig | null =
    anySet &&
    values.PM_MCP_OIDC_ISSUER &&
    values.PM_MCP_OIDC_CLIENT_ID &&
    values.PM_MCP_OIDC_CLIENT_SECRET
      ? Object.freeze({
          issuer: values.PM_MCP_OIDC_ISSUER,
          clientId: values.PM_MCP_OIDC_CLIENT_ID,
          clientSecret: values.PM_MCP_OIDC_CLIENT_SECRET,
          allowedDomains: Object.freeze(values.PM_MCP_OIDC_ALLOWED_DOMAINS),
        })
      : null;
  if (!values.PM_MCP_PASSWORD_LOGIN && oidc === null) {
    throw new ConfigError(
      'PM_MCP_PASSWORD_LOGIN',
      'cannot be false without PM_MCP_OIDC_* (nobody could sign in)',
    );
  }
  return Object.freeze({ enabled, passwordLogin: values.PM_MCP_PASSWORD_LOGIN, oidc });
}
