import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';

/**
 * Provider credentials at rest: AES-256-GCM, a fresh 96-bit IV per write, a 16-byte tag, and
 * additional data binding the ciphertext to its row (`user|connection|key version`), so a
 * ciphertext copied to another row fails to decrypt.
 * Stored as `v1.<iv>.<tag>.<ciphertext>` in base64url.
 */
export interface ProviderCredentials {
  email?: string | undefined;
  apiToken: string;
}

export interface CredentialBinding {
  userId: string;
  connectionId: string;
  keyVersion: number;
}

const bindingOf = (binding: CredentialBinding): Buffer =>
  Buffer.from(`${binding.userId}|${binding.connectionId}|${binding.keyVersion}`, 'utf8');

export function encryptCredentials(
  key: Buffer,
  binding: CredentialBinding,
  credentials: ProviderCredentials,
): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(bindingOf(binding));
  const ciphertext = Buffer.concat([
    cipher.update(JSON.stringify(credentials), 'utf8'),
    cipher.final(),
  ]);
  return [
    'v1',
    iv.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
    ciphertext.toString('base64url'),
  ].join('.');
}

export function decryptCredentials(
  key: Buffer,
  binding: CredentialBinding,
  stored: string,
): ProviderCredentials {
  const [version, iv, tag, ciphertext] = stored.split('.');
  try {
    if (version !== 'v1' || !iv || !tag || ciphertext === undefined)
      throw new Error('unknown format');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
      authTagLength: 16,
    });
    decipher.setAAD(bindingOf(binding));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plaintext = Buffer.concat([
      decipher.update(Buffer.from(ciphertext, 'base64url')),
      decipher.final(),
    ]);
    const parsed = JSON.parse(plaintext.toString('utf8')) as ProviderCredentials;
    if (typeof parsed.apiToken !== 'string') throw new Error('missing token');
    return parsed;
  } catch (error) {
    throw new AppError('internal_error', 'Stored provider credentials could not be decrypted', {
      cause: error,
    });
  }
}
