#!/usr/bin/env node
// `pm-mcp-server`: runs the compiled server (`npm run build` emits dist/server/) with plain Node.
// Where there is no build, or the sources beside it are newer (a checkout being worked on), or
// PM_MCP_FROM_SOURCE=1, it registers tsx's ESM loader (resolved from this file, so the bin works
// from any folder) and runs the TypeScript entry instead. One process either way: Ctrl-C and
// SIGTERM reach the server's own shutdown.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = new URL('../dist/server/cli.js', import.meta.url);

/** The newest modification time of the server's TypeScript sources, 0 when there are none. */
function newestSource() {
  let newest = 0;
  for (const folder of ['server', 'server-migrations']) {
    if (!existsSync(`${root}/${folder}`)) continue;
    for (const entry of readdirSync(`${root}/${folder}`, { recursive: true })) {
      if (!String(entry).endsWith('.ts')) continue;
      newest = Math.max(newest, statSync(`${root}/${folder}/${entry}`).mtimeMs);
    }
  }
  return newest;
}

const useBuild =
  process.env.PM_MCP_FROM_SOURCE !== '1' &&
  existsSync(compiled) &&
  statSync(compiled).mtimeMs >= newestSource();

let entry;
if (useBuild) {
  entry = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = await import('../server/cli.ts');
}
await entry.main();
