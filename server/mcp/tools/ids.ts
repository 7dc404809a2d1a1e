/**
 * Issue and project ids in tool results are `"<connection id>:<key>"` (e.g. `"3f2a…:PROJ-12"`),
 * unambiguous across providers. Connection ids never contain a colon; keys may not be empty.
 */

export function toolId(connectionId: string, key: string): string {
  return `${connectionId}:${key}`;
}

export function parseToolId(id: string): { connectionId: string; key: string } | undefined {
  const trimmed = id.trim();
  const colon = trimmed.indexOf(':');
  if (colon <= 0 || colon === trimmed.length - 1) return undefined;
  return { connectionId: trimmed.slice(0, colon), key: trimmed.slice(colon + 1) };
}
