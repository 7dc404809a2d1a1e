import type { Kysely } from 'kysely';
import { hashLegacyPlaintextKeys } from './legacy-keys.js';

/** Deployments upgraded from the original design carry plaintext keys: hash them, then empty them. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await hashLegacyPlaintextKeys(db);
}

export async function down(): Promise<void> {
  // Nothing to undo: the plaintext is gone by design.
}
