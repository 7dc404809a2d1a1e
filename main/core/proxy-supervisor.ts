import type { ProxyStatus } from '../../preload/contract.js';
import { DesktopError, isDesktopError } from '../errors.js';
import type { SettingsFile } from '../state/settings.js';
import { isSignedIn, type SignedInSettings } from './core-memory.js';
import type { LocalTokenKeeper } from './local-token.js';
import { probeLoopbackPort } from './port-probe.js';
import type { LoopbackProxyFactory, LoopbackProxyHandle, ProxyCredentials } from './proxy-port.js';

/**
 * Runs the loopback proxy when this process should (the tray app, `pm-mcp proxy`): starts it on
 * the saved port when signed in, moves it when the port or server changes, stops it on sign-out.
 */
export interface ProxySupervisor {
  /** Whether this process runs the proxy at all (the CLI's one-shot commands do not). */
  wanted: boolean;
  /** Why it is not running when it should (e.g. port in use), or null. */
  readonly problem: string | null;
  /** Starts (or keeps) the proxy for this server and port; throws when it cannot. */
  startFor(s: SignedInSettings, port: number): Promise<void>;
  stop(): Promise<void>;
  /** Starts, moves or stops the proxy to match the settings, when this process runs one. */
  sync(s: SettingsFile): Promise<void>;
  /** Ours, or what the port says when another process (the tray app, `pm-mcp proxy`) runs it. */
  status(s: SettingsFile): Promise<ProxyStatus>;
  /** Ours, if running. */
  runningStatus(): ProxyStatus | undefined;
}

export function createProxySupervisor(options: {
  createProxy: LoopbackProxyFactory;
  credentials: ProxyCredentials;
  localToken: LocalTokenKeeper;
  /** The server answered 401 to a forwarded request. */
  onUpstreamUnauthorized: () => void;
}): ProxySupervisor {
  let proxy: LoopbackProxyHandle | undefined;
  let proxyUpstream: string | undefined;
  let proxyPort: number | undefined;
  let problem: string | null = null;
  let unsubscribe: (() => void) | undefined;

  async function stop(): Promise<void> {
    unsubscribe?.();
    unsubscribe = undefined;
    const running = proxy;
    proxy = undefined;
    proxyUpstream = undefined;
    proxyPort = undefined;
    await running?.stop();
  }

  async function startFor(s: SignedInSettings, port: number): Promise<void> {
    await options.localToken.ensure();
    if (proxy && proxyUpstream === s.serverUrl && proxyPort === port) return;
    await stop();
    const handle = options.createProxy({
      port,
      upstreamBaseUrl: s.serverUrl,
      credentials: options.credentials,
    });
    try {
      await handle.start();
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
      throw isDesktopError(error)
        ? error
        : new DesktopError(
            'port_in_use',
            `The local proxy could not start on port ${port}: ${problem}`,
            { cause: error },
          );
    }
    proxy = handle;
    proxyUpstream = s.serverUrl;
    proxyPort = port;
    problem = null;
    unsubscribe = handle.onUpstreamUnauthorized(options.onUpstreamUnauthorized);
  }

  const supervisor: ProxySupervisor = {
    wanted: false,
    get problem() {
      return problem;
    },
    startFor,
    stop,
    async sync(s) {
      if (!supervisor.wanted) return;
      if (!isSignedIn(s)) {
        await stop();
        return;
      }
      try {
        await startFor(s, s.proxyPort);
      } catch (error) {
        // The tray shows why; the CLI's `proxy` command calls startProxy, which throws.
        problem = error instanceof Error ? error.message : String(error);
      }
    },
    async status(s) {
      if (proxy) return proxy.status();
      // Another process (the tray app or `pm-mcp proxy`) may run it.
      const running = await probeLoopbackPort(s.proxyPort);
      return {
        running,
        port: s.proxyPort,
        requests: 0,
        lastRequestAt: null,
        lastUpstreamError: null,
      };
    },
    runningStatus: () => proxy?.status(),
  };
  return supervisor;
}
