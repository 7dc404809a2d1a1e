import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { build, defineConfig, type Plugin } from 'vite';

const repoRoot = path.dirname(fileURLToPath(import.meta.url));

/**
 * A sandboxed preload script cannot be an ES module and cannot `require` relative files, so
 * `preload/index.ts` (and the contract it imports) is bundled into one CommonJS file,
 * `dist/preload/index.cjs`, that only requires `electron`. It is built after the renderer so
 * `npm run build` and `npm run build:renderer` both produce it.
 */
function bundlePreload(): Plugin {
  return {
    name: 'pm-mcp:bundle-preload',
    apply: 'build',
    async closeBundle() {
      await build({
        configFile: false,
        logLevel: 'warn',
        root: repoRoot,
        build: {
          outDir: path.join(repoRoot, 'dist/preload'),
          emptyOutDir: false,
          minify: false,
          sourcemap: false,
          target: 'chrome120',
          lib: {
            entry: path.join(repoRoot, 'preload/index.ts'),
            formats: ['cjs'],
            fileName: () => 'index.cjs',
          },
          rollupOptions: { external: ['electron'] },
        },
      });
    },
  };
}

/** The window: `renderer/` built into `renderer/dist`, loaded from `file://` (hence base `./`). */
export default defineConfig({
  root: path.join(repoRoot, 'renderer'),
  base: './',
  plugins: [react(), bundlePreload()],
  build: {
    outDir: path.join(repoRoot, 'renderer/dist'),
    emptyOutDir: true,
    target: 'chrome120',
    // The polyfill would be an extra script; Chromium supports modulepreload natively.
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: { host: '127.0.0.1', strictPort: true },
});
