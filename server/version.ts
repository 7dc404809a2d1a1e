import { existsSync, readFileSync } from 'node:fs';

/** package.json beside the sources (`server/`) or beside the build (`dist/server/`). */
function packageJsonUrl(): URL {
  const candidates = ['../package.json', '../../package.json'].map(
    (relative) => new URL(relative, import.meta.url),
  );
  return candidates.find((candidate) => existsSync(candidate)) ?? (candidates[0] as URL);
}

/** The package version, read once (shown by /health and the MCP server info). */
export const version: string = (
  JSON.parse(readFileSync(packageJsonUrl(), 'utf8')) as { version: string }
).version;
