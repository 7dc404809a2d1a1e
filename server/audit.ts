import { randomUUID } from 'node:crypto';
import type { Db } from './db/database.js';

export type AuditEvent =
  | 'user.registered'
  | 'user.deleted'
  | 'login.failed'
  | 'key.created'
  | 'key.revoked'
  | 'key.rotated'
  | 'key.limits_changed'
  | 'auth.failed'
  | 'refresh_token.reused'
  | 'provider.created'
  | 'provider.deleted'
  | 'user.sso_linked';

export interface AuditEntry {
  event: AuditEvent;
  userId?: string | null;
  keyId?: string | null;
  ip?: string | null;
  /** Never a secret: a reason or a name. */
  detail?: string | null;
}

/** Appends to the audit log. Never given a plaintext key, token or password. */
export async function recordAudit(
  db: Db,
  entry: AuditEntry,
  now: Date = new Date(),
): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      id: randomUUID(),
      event: entry.event,
      user_id: entry.userId ?? null,
      key_id: entry.keyId ?? null,
      ip: entry.ip ?? null,
      detail: entry.detail ?? null,
      created_at: now.toISOString(),
    })
    .execute();
}
