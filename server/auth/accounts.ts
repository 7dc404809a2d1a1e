import { randomUUID } from 'node:crypto';
import { recordAudit } from '../audit.js';
import type { Db } from '../db/database.js';
import { toIso, type UserRow } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { AttemptLimiter } from './failure-limiter.js';
import {
  createDummyHash,
  hashPassword,
  verifyPassword,
  type PasswordHashGate,
  type PasswordHashingCost,
} from './passwords.js';
import { generateRefreshToken, hashRefreshToken, type AccessTokens } from './session-tokens.js';

export interface PublicUser {
  id: string;
  email: string;
  name: string | null;
  created_at: string;
}

export interface SessionTokens {
  user: PublicUser;
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export function presentUser(
  row: Pick<UserRow, 'id' | 'email' | 'name' | 'created_at'>,
): PublicUser {
  return { id: row.id, email: row.email, name: row.name, created_at: toIso(row.created_at) };
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
    .executeTakeFirst();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    code === '23505' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

const invalidLogin = (): AppError =>
  new AppError('invalid_credentials', 'Invalid email or password');

const tooManyRequests = (message: string, retryAfterSeconds: number): AppError =>
  new AppError('too_many_requests', message, {
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });

const isServerBusy = (error: unknown): boolean =>
  error instanceof AppError && error.code === 'server_busy';

export interface AccountServiceDeps {
  db: Db;
  accessTokens: AccessTokens;
  passwordCost: PasswordHashingCost;
  /** Every password hash and check waits here (bounded memory; 503 `server_busy` beyond). */
  passwordHashing: PasswordHashGate;
  refreshTokenTtlDays: number;
  /** Sign-in attempts per account and per address, reserved before the password is checked. */
  loginLimiter: AttemptLimiter;
  /** Registrations per address. */
  registrationLimiter: AttemptLimiter;
  now: () => Date;
}

/** Accounts and sessions: register, login, rotating refresh tokens, logout. */
export class AccountService {
  readonly #deps: AccountServiceDeps;
  #dummyHash: Promise<string> | undefined;

  constructor(deps: AccountServiceDeps) {
    this.#deps = deps;
  }

  async createUser(input: {
    email: string;
    password: string;
    name?: string | null;
  }): Promise<PublicUser> {
    const { db, now } = this.#deps;
    const timestamp = now().toISOString();
    const row = {
      id: randomUUID(),
      email: input.email.trim(),
      name: input.name?.trim() || null,
      password_hash: await this.#deps.passwordHashing.run(() =>
        hashPassword(input.password, this.#deps.passwordCost),
      ),
      created_at: timestamp,
      updated_at: timestamp,
    };
    try {
      await db.insertInto('users').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error))
        throw new AppError('email_taken', 'An account with this email already exists');
      throw error;
    }
    await recordAudit(db, { event: 'user.registered', userId: row.id }, now());
    return presentUser(row);
  }

  /**
   * Self sign-up, limited per client address: every attempt counts, a taken email included
   * (probing for accounts costs attempts too).
   */
  async register(
    input: { email: string; password: string; name?: string | null },
    ip: string,
  ): Promise<SessionTokens> {
    const { registrationLimiter } = this.#deps;
    const subjects = [`address:${ip}`];
    const retryAfter = await registrationLimiter.count(subjects);
    if (retryAfter > 0) {
      throw tooManyRequests(
        'Too many registrations from this address; try again later',
        retryAfter,
      );
    }
    let user: PublicUser;
    try {
      user = await this.createUser(input);
    } catch (error) {
      // Refused before any work: a busy server does not spend the caller's attempts.
      if (isServerBusy(error)) await registrationLimiter.uncount(subjects);
      throw error;
    }
    return this.#issueSession(user, randomUUID());
  }

  /**
   * One answer for every failure. The unknown-email path verifies against a dummy hash so it
   * costs what a wrong password costs. Attempts are limited per account and per address, and
   * reserved atomically before the password is checked, so concurrent guesses cannot race past
   * the limit; a successful sign-in gives its reservation back.
   */
  async login(email: string, password: string, ip: string): Promise<SessionTokens> {
    return this.#issueSession(await this.verifyLogin(email, password, ip), randomUUID());
  }

  /** `login` without the session: who the email and password belong to (the OAuth login page). */
  async verifyLogin(email: string, password: string, ip: string): Promise<PublicUser> {
    const { db, loginLimiter } = this.#deps;
    const accountSubject = `account:${email.trim().toLowerCase()}`;
    const addressSubject = `address:${ip}`;
    const subjects = [accountSubject, addressSubject];
    const retryAfter = await loginLimiter.count(subjects);
    if (retryAfter > 0) {
      throw tooManyRequests('Too many failed sign-in attempts; try again later', retryAfter);
    }
    let user: UserRow | undefined;
    let valid: boolean;
    try {
      user = await findUserByEmail(db, email);
      const storedHash = user?.password_hash ?? (await this.#dummy());
      valid = await this.#deps.passwordHashing.run(() => verifyPassword(password, storedHash));
    } catch (error) {
      // Nothing was checked: the reservation is given back.
      await loginLimiter.uncount(subjects);
      throw error;
    }
    if (!user || !valid) {
      await recordAudit(
        db,
        { event: 'login.failed', userId: user?.id ?? null, ip },
        this.#deps.now(),
      );
      throw invalidLogin();
    }
    await loginLimiter.reset([accountSubject]);
    await loginLimiter.uncount([addressSubject]);
    return presentUser(user);
  }

  /**
   * A session for a person the authorization server has already signed in (the desktop app's
   * browser sign-in, password or SSO); `undefined` when the account no longer exists.
   */
  async startSession(userId: string): Promise<SessionTokens | undefined> {
    const user = await findUserById(this.#deps.db, userId);
    return user ? this.#issueSession(presentUser(user), randomUUID()) : undefined;
  }

  /**
   * Rotates the refresh token. A token that was already rotated away being used again means it
   * leaked: the whole family is revoked.
   */
  async refresh(refreshToken: string): Promise<SessionTokens> {
    const { db, now } = this.#deps;
    const invalid = new AppError('invalid_token', 'Invalid or expired refresh token');
    const row = await db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('token_hash', '=', hashRefreshToken(refreshToken))
      .executeTakeFirst();
    if (!row) throw invalid;
    if (row.revoked_at !== null) {
      if (row.replaced_by !== null) {
        await this.#revokeFamily(row.family_id);
        await recordAudit(db, { event: 'refresh_token.reused', userId: row.user_id }, now());
      }
      throw invalid;
    }
    if (toIso(row.expires_at) <= now().toISOString()) throw invalid;
    const user = await findUserById(db, row.user_id);
    if (!user) throw invalid;
    const session = await this.#issueSession(presentUser(user), row.family_id);
    const replacement = await db
      .selectFrom('refresh_tokens')
      .select('id')
      .where('token_hash', '=', hashRefreshToken(session.refresh_token))
      .executeTakeFirstOrThrow();
    const updated = await db
      .updateTable('refresh_tokens')
      .set({ revoked_at: now().toISOString(), replaced_by: replacement.id })
      .where('id', '=', row.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) {
      // Lost a race with a concurrent refresh of the same token: treat as reuse.
      await this.#revokeFamily(row.family_id);
      throw invalid;
    }
    return session;
  }

  async logout(refreshToken: string): Promise<void> {
    await this.#deps.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: this.#deps.now().toISOString() })
      .where('token_hash', '=', hashRefreshToken(refreshToken))
      .where('revoked_at', 'is', null)
      .execute();
  }

  async #issueSession(user: PublicUser, familyId: string): Promise<SessionTokens> {
    const { db, now, accessTokens, refreshTokenTtlDays } = this.#deps;
    const refreshToken = generateRefreshToken();
    const issuedAt = now();
    await db
      .insertInto('refresh_tokens')
      .values({
        id: randomUUID(),
        user_id: user.id,
        family_id: familyId,
        token_hash: hashRefreshToken(refreshToken),
        created_at: issuedAt.toISOString(),
        expires_at: new Date(issuedAt.getTime() + refreshTokenTtlDays * 86_400_000).toISOString(),
        revoked_at: null,
        replaced_by: null,
      })
      .execute();
    return {
      user,
      access_token: await accessTokens.issue(user.id, familyId),
      refresh_token: refreshToken,
      token_type: 'Bearer',
      expires_in: accessTokens.ttlSeconds,
    };
  }

  async #revokeFamily(familyId: string): Promise<void> {
    await this.#deps.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: this.#deps.now().toISOString() })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  #dummy(): Promise<string> {
    this.#dummyHash ??= createDummyHash(this.#deps.passwordCost);
    return this.#dummyHash;
  }
}
