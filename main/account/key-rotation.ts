/** Rotate when less than this remains… */
export const rotateWhenDaysLeft = 7;
/** …or less than this share of the key's lifetime. */
export const rotateWhenLifetimeShareLeft = 0.2;

/** Whether a key with this lifetime should be rotated now (keys without expiry never are). */
export function keyRotationDue(
  key: { createdAt: string; expiresAt: string | null },
  now: Date,
): boolean {
  if (key.expiresAt === null) return false;
  const expires = Date.parse(key.expiresAt);
  const created = Date.parse(key.createdAt);
  if (Number.isNaN(expires)) return false;
  const remaining = expires - now.getTime();
  const lifetime = Number.isNaN(created) ? Number.POSITIVE_INFINITY : expires - created;
  return (
    remaining < rotateWhenDaysLeft * 86_400_000 ||
    remaining < rotateWhenLifetimeShareLeft * lifetime
  );
}
