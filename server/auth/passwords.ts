import {
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto';
import { promisify } from 'node:util';
import { AppError } from '../errors.js';

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

export interface PasswordHashingCapacity {
  /** Hashes computed at once (each scrypt at OWASP cost holds ~128 MiB). */
  readonly concurrent: number;
  /** Hashes that may wait for a slot; beyond them the request is refused at once. */
  readonly waiting: number;
}

export const defaultPasswordHashingCapacity: PasswordHashingCapacity = {
  concurrent: 2,
  waiting: 8,
};

/**
 * Bounds the memory and CPU that password hashing may take: a few hashes run, a few wait, and
 * anything more is refused with 503 `server_busy` and `Retry-After` before any work is done.
 * Every password hash and check of the server runs through one gate.
 */
export class PasswordHashGate {
  readonly #capacity: PasswordHashingCapacity;
  readonly #queue: (() => void)[] = [];
  #running = 0;

  constructor(capacity: PasswordHashingCapacity = defaultPasswordHashingCapacity) {
    this.#capacity = capacity;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#capacity.concurrent) {
      if (this.#queue.length >= this.#capacity.waiting) {
        throw new AppError('server_busy', 'The server is busy; try again in a moment', {
          headers: { 'Retry-After': '2' },
        });
      }
      // The slot is handed over by the task that finishes (so #running never drops in between).
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else {
      this.#running += 1;
    }
    try {
      return await task();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#running -= 1;
    }
  }
}
