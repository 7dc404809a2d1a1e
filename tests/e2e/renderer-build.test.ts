import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rendererBuildReason } from '../../scripts/ensure-renderer-build.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function write(root: string, file: string, at: Date): void {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), 'x');
  utimesSync(path.join(root, file), at, at);
}

function project(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'pm-mcp-build-'));
  folders.push(root);
  const old = new Date(Date.now() - 60_000);
  write(root, 'renderer/src/App.tsx', old);
  write(root, 'renderer/index.html', old);
  write(root, 'preload/contract.ts', old);
  write(root, 'vite.config.ts', old);
  for (const folder of ['renderer/src', 'renderer', 'preload']) {
    utimesSync(path.join(root, folder), old, old);
  }
  return root;
}

describe('npm run test:e2e builds the renderer when it must', () => {
  it('missing output → build; fresh output → no build; a changed source → build again', () => {
    const root = project();
    expect(rendererBuildReason(root)).toBe('renderer/dist/index.html is missing');
    const built = new Date(Date.now() - 30_000);
    write(root, 'renderer/dist/index.html', built);
    expect(rendererBuildReason(root)).toBe('dist/preload/index.cjs is missing');
    write(root, 'dist/preload/index.cjs', built);
    expect(rendererBuildReason(root)).toBeNull();

    write(root, 'preload/contract.ts', new Date());
    expect(rendererBuildReason(root)).toBe('preload changed since the last build');
  });
});
