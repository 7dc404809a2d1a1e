/**
 * `npm run test:e2e` runs this first: the window tests load the built renderer (renderer/dist)
 * and the Electron test the preload bundle (dist/preload/index.cjs), both made by `vite build`.
 * It builds them when either is missing or older than any of its sources, and does nothing
 * otherwise (so a run right after `npm test` does not build twice).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What `vite build` reads (the renderer, the preload and its contract, the build config). */
const sources = ['renderer/src', 'renderer/index.html', 'preload', 'vite.config.ts'];
/** What it writes that the tests load. */
const outputs = ['renderer/dist/index.html', 'dist/preload/index.cjs'];

function newestModification(entry: string): number {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const child of readdirSync(entry)) {
    newest = Math.max(newest, newestModification(path.join(entry, child)));
  }
  return newest;
}

/** Why a build is needed, or `null` when the outputs are newer than every source. */
export function rendererBuildReason(root = repoRoot): string | null {
  const missing = outputs.find((output) => !existsSync(path.join(root, output)));
  if (missing !== undefined) return `${missing} is missing`;
  const built = Math.min(...outputs.map((output) => statSync(path.join(root, output)).mtimeMs));
  const changed = sources.find(
    (source) =>
      existsSync(path.join(root, source)) && newestModification(path.join(root, source)) > built,
  );
  return changed === undefined ? null : `${changed} changed since the last build`;
}

export function ensureRendererBuild(root = repoRoot): void {
  const reason = rendererBuildReason(root);
  if (reason === null) return;
  console.info(`[e2e] building the renderer (${reason})`);
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    throw new Error(`vite build failed (exit code ${String(result.status ?? result.signal)})`);
  }
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(path.resolve(entry)).href) {
  try {
    ensureRendererBuild();
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
