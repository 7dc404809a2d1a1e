import type { ProxyStatus } from '../../preload/contract.js';

/**
 * What the core needs from the loopback proxy (`main/proxy/`). The credentials are read on every
 * request, so a rotated key is used at once; they are synchronous, so the core keeps both secrets
 * in memory after reading them from the keychain once.
 */
export interface ProxyCredentials {
  apiKey(): string | undefined;
  localToken(): string | undefined;
}

export interface LoopbackProxyHandle {
  start(): Promise<unknown>;
  stop(): Promise<void>;
  status(): ProxyStatus;
  /** Called when the server answers 401 to a forwarded request (key revoked or expired). */
  onUpstreamUnauthorized(listener: () => void): () => void;
}

export type LoopbackProxyFactory = (options: {
  port: number;
  upstreamBaseUrl: string;
  credentials: ProxyCredentials;
}) => LoopbackProxyHandle;
