import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startIpcBridge, type BridgedServices, type IpcBridgeOptions } from './ipc-bridge.js';
import { createCoreStandIn } from '../electron/core-stand-in.js';

const rendererDir = path.resolve(import.meta.dirname, '../../renderer/dist');

function services(): BridgedServices & ReturnType<typeof createCoreStandIn> {
  return createCoreStandIn();
}

describe('the IPC test bridge', () => {
  it('refuses to exist unless created with enableTestBridge: true', async () => {
    const options = { services: services(), rendererDir } as unknown as IpcBridgeOptions;
    await expect(startIpcBridge(options)).rejects.toThrow(/enableTestBridge: true/);
    await expect(
      startIpcBridge({ ...options, enableTestBridge: 'yes' } as unknown as IpcBridgeOptions),
    ).rejects.toThrow(/enableTestBridge: true/);
  });

  it('keeps the page’s CSP, adds only a same-origin shim, and validates calls like the Electron handlers', async () => {
    const core = services();
    const bridge = await startIpcBridge({ enableTestBridge: true, services: core, rendererDir });
    try {
      const html = await (await fetch(bridge.url)).text();
      expect(html).toContain("script-src 'self'");
      expect(html).toContain('<script src="./__ipc/shim.js"></script>');
      expect(html).not.toMatch(/<script>(?!<\/script>)/);

      const call = (method: string, args: unknown[]) =>
        fetch(new URL(`__ipc/${method}`, bridge.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ args }),
        });
      expect(await (await call('configureClient', ['notepad'])).json()).toMatchObject({
        ok: false,
        error: { code: 'invalid_argument' },
      });
      expect(core.calls.some((entry) => entry.method === 'configureClient')).toBe(false);
      expect(await (await call('configureClient', ['cursor'])).json()).toMatchObject({
        ok: true,
        value: { client: 'cursor' },
      });
      expect((await call('constructor', [])).status).toBe(404);

      // Only 127.0.0.1:<port> as Host (no DNS rebinding onto the test services).
      const port = new URL(bridge.url).port;
      const status = await new Promise<number | undefined>((resolve, reject) => {
        httpRequest(
          { host: '127.0.0.1', port, path: '/', headers: { host: `evil.example:${port}` } },
          (response) => {
            response.resume();
            resolve(response.statusCode);
          },
        )
          .on('error', reject)
          .end();
      });
      expect(status).toBe(403);
    } finally {
      await bridge.stop();
    }
  });
});
