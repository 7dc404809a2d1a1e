import {
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify<string | Buffer, Buffer, number, ScryptOptions, Buffer>(scryptCallback);

export interface PasswordHashingCost {
  /** CPU/memory cost, a power of two. OWASP: 2^17. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** OWASP's recommended scrypt parameters. */
export const owaspScryptCost: PasswordHashingCost = { N: 2 ** 17, r: 8, p: 1 };

const keyLength = 32;
/** Passwords longer than this are refused before hashing (hashing cost grows with length). */
export const maxPasswordLength = 1024;
export const minPasswordLength = 8;

function maxmemFor(cost: PasswordHashingCost): number {
  // scrypt needs 128 * N * r bytes; Node's default ceiling (32 MiB) is below OWASP's cost.
  return 128 * cost.N * cost.r * 2;
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>`: the parameters travel with the hash. */
export async function hashPassword(password: string, cost: PasswordHashingCost): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password.normalize('NFKC'), salt, keyLength, {
    ...cost,
    maxmem: maxmemFor(cost),
  });
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64'), hash.toString('base64')].join(
    '$',
  );
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, saltB64, hashB64] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !saltB64 || !hashB64) return false;
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  const expected = Buffer.from(hashB64, 'base64');
  const actual = await scrypt(
    password.normalize('NFKC'),
    Buffer.from(saltB64, 'base64'),
    expected.length,
    {
      ...cost,
      maxmem: maxmemFor(cost),
    },
  );
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A hash of a random password at the configured cost, verified against on the unknown-email
 * path so that a login for a missing account costs the same as a wrong password.
 */
export function createDummyHash(cost: PasswordHashingCost): Promise<string> {
  return hashPassword(randomBytes(24).toString('base64'), cost);
}
