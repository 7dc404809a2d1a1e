import { fileURLToPath } from 'node:url';
import { createLoopbackProxy } from '../../main/proxy/proxy.js';
import {
  serveCommands,
  startChild,
  startChildMain,
  type Child,
  type ChildOptions,
} from './child.js';

/**
 * The desktop app's loopback proxy in its own process (so its CPU can be read from /proc). The
 * key and local token arrive over IPC, never on a command line or in the environment.
 */

export type ProxyCommands = {
  setCredentials: (args: { apiKey: string; localToken: string }) => void;
};
export type ProxyProcess = Child<ProxyCommands, { url: string }>;

export function startProxyProcess(
  upstreamBaseUrl: string,
  options: ChildOptions = {},
): Promise<ProxyProcess> {
  return startChild<ProxyCommands, { url: string }>(fileURLToPath(import.meta.url), {
    ...options,
    env: { BENCH_PROXY_UPSTREAM: upstreamBaseUrl, ...options.env },
  });
}

const upstream = process.env.BENCH_PROXY_UPSTREAM;
if (upstream !== undefined && process.send) {
  startChildMain(async () => {
    let credentials: { apiKey: string; localToken: string } | undefined;
    const proxy = createLoopbackProxy({
      port: 0,
      upstreamBaseUrl: upstream,
      credentials: {
        apiKey: () => credentials?.apiKey,
        localToken: () => credentials?.localToken,
      },
    });
    const { port } = await proxy.start();
    const commands: ProxyCommands = {
      setCredentials: (args) => {
        credentials = args;
      },
    };
    await serveCommands(commands, {
      ready: { url: `http://127.0.0.1:${port}` },
      cleanup: () => proxy.stop(),
    });
  });
}
