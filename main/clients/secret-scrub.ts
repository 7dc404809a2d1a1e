/**
 * MCP keys in editor files (issue: a key left in a backup survives every later change). A key is
 * `mcp_` + 49 base62 characters, or `mcp_` + 64 hex in the original design; the pattern takes
 * anything `mcp_`-prefixed and long enough to be one, not preceded by a word character (so
 * `PM_MCP_API_KEY` and names like `my_mcp_server` never match).
 */
const mcpKeyPattern = /(?<![0-9A-Za-z_])mcp_[0-9A-Za-z]{40,}/g;

/** What a removed key is replaced with in a backup (valid inside JSON, TOML and YAML strings). */
export const removedKeyMarker = '<removed by pm-mcp - an MCP key>';

/** How many characters of a key are shown (the server's `key_prefix`). */
const displayPrefixLength = 12;

/** The distinct MCP keys in a text. */
export function mcpKeysIn(text: string): string[] {
  return [...new Set(text.match(mcpKeyPattern) ?? [])];
}

/** The text with every MCP key replaced by the marker. */
export function withoutMcpKeys(text: string): string {
  return text.replace(mcpKeyPattern, removedKeyMarker);
}

/** A key's display prefix (never the key itself). */
export function displayPrefix(key: string): string {
  return key.slice(0, displayPrefixLength);
}
