import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * MCP API key format: `mcp_` + 43 base62 characters of randomness (256 bits from
 * `crypto.randomBytes`) + 6 base62 characters of CRC32 over everything before them. The checksum
 * lets a mistyped or truncated key be refused before any database lookup (as GitHub's tokens).
 * Keys of the original design (`mcp_` + 64 hex, no checksum) are recognised too.
 */
const prefix = 'mcp_';
const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const bodyLength = 43;
const checksumLength = 6;
const currentPattern = /^mcp_[0-9A-Za-z]{49}$/;
const legacyPattern = /^mcp_[0-9a-f]{64}$/;

/** How many characters of a key are kept for display (`key_prefix`). */
export const displayPrefixLength = 12;

function toBase62(value: bigint, length: number): string {
  let text = '';
  let rest = value;
  while (rest > 0n) {
    text = alphabet.charAt(Number(rest % 62n)) + text;
    rest /= 62n;
  }
  return text.padStart(length, '0');
}

function checksumOf(text: string): string {
  return toBase62(BigInt(crc32(text)), checksumLength);
}

export function generateApiKey(): string {
  const random = BigInt('0x' + randomBytes(32).toString('hex'));
  const head = prefix + toBase62(random, bodyLength);
  return head + checksumOf(head);
}

/** Checks shape and checksum only; needs no database. */
export function isWellFormedApiKey(candidate: string): boolean {
  if (legacyPattern.test(candidate)) return true;
  if (!currentPattern.test(candidate)) return false;
  const head = candidate.slice(0, -checksumLength);
  return checksumOf(head) === candidate.slice(-checksumLength);
}

/** SHA-256 is right for 256-bit random keys (a slow KDF is for passwords). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function displayPrefixOf(key: string): string {
  return key.slice(0, displayPrefixLength);
}

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(prefix);
}
