import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { atMost, compare, type BenchResult } from './report.js';

/**
 * B6: the renderer's production bundle (the project's own Vite config, built into a temporary
 * folder so `renderer/dist` is left alone), raw and gzip, against the 200 KB gzip budget and
 * against a bare React 19 "hello" page built the same way (what React alone costs).
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const budgetKB = 200;

interface BundleSize {
  rawKB: number;
  gzipKB: number;
  files: Record<string, { raw: number; gzip: number }>;
}

function measureAssets(outDir: string): BundleSize {
  const assets = path.join(outDir, 'assets');
  const files: BundleSize['files'] = {};
  for (const name of readdirSync(assets).filter((file) => /\.(js|css)$/.test(file))) {
    const content = readFileSync(path.join(assets, name));
    files[name] = { raw: content.length, gzip: gzipSync(content).length };
  }
  const sum = (field: 'raw' | 'gzip') =>
    Object.values(files).reduce((total, file) => total + file[field], 0) / 1000;
  return { rawKB: sum('raw'), gzipKB: sum('gzip'), files };
}

async function buildRenderer(outDir: string): Promise<void> {
  await build({
    configFile: path.join(root, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
}

async function buildReactBaseline(folder: string, outDir: string): Promise<void> {
  const require = createRequire(import.meta.url);
  writeFileSync(
    path.join(folder, 'index.html'),
    '<!doctype html><html><body><div id="root"></div><script type="module" src="./main.js"></script></body></html>',
  );
  writeFileSync(
    path.join(folder, 'main.js'),
    "import { createElement } from 'react';\nimport { createRoot } from 'react-dom/client';\n" +
      "createRoot(document.getElementById('root')).render(createElement('h1', null, 'Hello'));\n",
  );
  await build({
    configFile: false,
    root: folder,
    logLevel: 'warn',
    resolve: {
      // The page lives outside the repository: point it at the repository's React.
      alias: [
        { find: /^react$/, replacement: require.resolve('react') },
        { find: /^react-dom\/client$/, replacement: require.resolve('react-dom/client') },
      ],
    },
    build: { outDir, emptyOutDir: true, target: 'chrome120', modulePreload: { polyfill: false } },
  });
}

export async function benchRenderer(): Promise<BenchResult> {
  const startedAt = performance.now();
  const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-bench-renderer-'));
  try {
    await buildRenderer(path.join(folder, 'renderer'));
    await buildReactBaseline(folder, path.join(folder, 'react-baseline'));
    const renderer = measureAssets(path.join(folder, 'renderer'));
    const react = measureAssets(path.join(folder, 'react-baseline'));
    return {
      id: 'B6',
      title: 'Renderer bundle size',
      seconds: (performance.now() - startedAt) / 1000,
      figures: [
        compare(
          'renderer JS + CSS, gzip',
          'kB',
          ['renderer', renderer.gzipKB],
          ['budget', budgetKB],
          atMost(1),
        ),
        compare(
          'renderer JS + CSS, gzip',
          'kB',
          ['renderer', renderer.gzipKB],
          ['React alone', react.gzipKB],
        ),
        compare(
          'renderer JS + CSS, raw',
          'kB',
          ['renderer', renderer.rawKB],
          ['React alone', react.rawKB],
        ),
      ],
      details: { renderer, reactBaseline: react },
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
