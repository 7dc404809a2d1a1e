/**
 * The keychain behind one small interface (GitHub Desktop's `ISecureStore`): the app and the CLI
 * pass a keytar-backed store into their services, unit tests pass the in-memory one. Every secret
 * the desktop side holds (this machine's MCP key, the session refresh token, the proxy's local
 * token) lives only behind this interface, never in a file.
 */
export interface SecretStore {
  /** The stored value, or `undefined` when there is none. */
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
  /** Removes the entry; removing one that does not exist is not an error. */
  delete(name: string): Promise<void>;
}

/** The keychain service every entry is stored under. */
export const keychainService = 'pm-mcp';

/** Entry names ("accounts" in keytar's terms). Per-server entries are keyed by the server URL. */
export const secretNames = {
  mcpKey: (serverUrl: string): string => `${serverUrl}|mcp-key`,
  refreshToken: (serverUrl: string): string => `${serverUrl}|refresh-token`,
  /** Per install, not per server: the token clients present to the loopback proxy. */
  localProxyToken: 'local-proxy-token',
  /** Written and removed again to prove the keychain accepts writes before anything is minted. */
  probe: 'keychain-probe',
} as const;
