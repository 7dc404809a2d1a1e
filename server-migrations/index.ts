import type { Migration } from 'kysely';
import * as initial from './0001_initial.js';
import * as hashLegacyKeys from './0002_hash_legacy_keys.js';
import * as authLimits from './0003_auth_limits.js';
import * as cluster from './0004_cluster.js';
import * as oauth from './0005_oauth.js';
import * as keyPolicy from './0006_key_policy.js';
import * as grantPolicy from './0007_grant_policy.js';

export { hashLegacyPlaintextKeys } from './legacy-keys.js';

/** Every migration, by name; names sort in the order they apply. */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_hash_legacy_keys': hashLegacyKeys,
  '0003_auth_limits': authLimits,
  '0004_cluster': cluster,
  '0005_oauth': oauth,
  '0006_key_policy': keyPolicy,
  '0007_grant_policy': grantPolicy,
};
