import { formatAbsolute, formatRelative } from '../format';

/** A moment shown relative ("5 minutes ago") with the exact time on hover and for screen readers. */
export function Time({ iso, empty = 'Never' }: { iso: string | null; empty?: string }) {
  if (!iso) return <span className="muted">{empty}</span>;
  const exact = formatAbsolute(iso);
  return (
    <time dateTime={iso} title={exact}>
      {formatRelative(iso)}
    </time>
  );
}
