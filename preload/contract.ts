/**
 * The one IPC contract between the tray app's main process, its preload script and the window.
 * `main/` implements `DesktopApi` (with the real services), `preload/` exposes it on
 * `window.pmMcp` through `contextBridge`, and `renderer/` calls nothing else. Every value that
 * crosses is plain JSON. No full MCP key ever crosses except `RotatedKey.apiKey`, the once-shown
 * new key the user asked for.
 */

export const clientIds = [
  'cursor',
  'vscode',
  'claude-code',
  'windsurf',
  'claude-desktop',
  'gemini-cli',
  'codex',
  'zed',
  'cline',
  'roo-code',
  'continue',
  'goose',
  'opencode',
  'jetbrains',
  'lm-studio',
  'amazon-q',
  'qwen-code',
] as const;
export type ClientId = (typeof clientIds)[number];

export const providerTypes = ['jira', 'jira_server', 'openproject'] as const;
export type ProviderType = (typeof providerTypes)[number];

/** Whether this machine's key still works, as last seen by the server or the proxy. */
export type KeyHealth = 'ok' | 'rejected' | 'expiring' | 'unknown';

/** What a key or an OAuth grant may touch beyond its scope (SPEC §3.7). */
export interface AccessLimits {
  /** The only tools it may use; null: every tool its scope allows. */
  allowedTools: string[] | null;
  /** The only connections / `"<connection id>:<project key>"` it may touch; null: everything. */
  allowedProjects: string[] | null;
}

export interface KeyInfo extends AccessLimits {
  id: string;
  name: string;
  keyPrefix: string;
  scope: 'read' | 'write';
  isActive: boolean;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  /** True for the key this machine uses. */
  isThisMachine: boolean;
}

/** The PM tools a key's or a grant's limits can name (the server's list, SPEC §3.7). */
export const pmToolNames = [
  'list_providers',
  'list_projects',
  'search_issues',
  'list_my_issues',
  'get_issue',
  'find_users',
  'list_versions',
  'create_issue',
  'update_issue',
  'transition_issue',
  'add_comment',
  'log_work',
  'link_issues',
] as const;

/**
 * A change to a key's or a grant's limits: a list sets that limit, null lifts it, absent keeps it.
 * The server checks the names and that every connection is the user's own.
 */
export interface LimitsChange {
  allowedTools?: string[] | null;
  allowedProjects?: string[] | null;
}

export interface RotatedKey {
  key: KeyInfo;
  /** The new plaintext key, shown once when the user asked to see it. */
  apiKey: string;
}

/** An editor the user let in with OAuth, listed and limited like a key (never a token). */
export interface GrantInfo extends AccessLimits {
  id: string;
  clientId: string;
  /** The name the editor gave itself when it registered. */
  clientName: string;
  /** `pm:read`, `pm:write`. */
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
  /** When the grant ends unless the editor refreshes it. */
  expiresAt: string | null;
}

export interface ProviderInfo {
  id: string;
  providerType: ProviderType;
  name: string;
  baseUrl: string;
  isActive: boolean;
  createdAt: string;
  lastCheckedAt: string | null;
  lastCheckOk: boolean | null;
  lastCheckMessage: string | null;
}

export interface AddProviderInput {
  providerType: ProviderType;
  name: string;
  baseUrl: string;
  /** Jira Cloud only. */
  email?: string;
  apiToken: string;
}

export interface ProviderTestResult {
  ok: boolean;
  message: string;
  account?: string;
}

/** present-and-current, present-but-changed (drift), missing from the file, or file unparseable. */
export type ClientConfigState = 'current' | 'changed' | 'missing' | 'unparseable';

export interface ClientStatus {
  client: ClientId;
  label: string;
  path: string;
  state: ClientConfigState;
  /** Why the state is what it is, in words a user can act on. */
  detail: string | null;
}

/** A client as the window and `pm-mcp clients` list it (installed ones first). */
export interface ClientListing extends ClientStatus {
  /** Whether the client is installed on this machine (its own folders exist). */
  installed: boolean;
  /** A one-click install link (Cursor, VS Code), secret-free; `null` where the client has none. */
  installLink: string | null;
}

/** A client the app configured by itself (Cursor after sign-in), until the user keeps or undoes it. */
export interface AutoConfiguredClient {
  client: ClientId;
  label: string;
  path: string;
  /** When it was written (ISO 8601). */
  at: string;
}

export interface ProxyStatus {
  running: boolean;
  port: number;
  requests: number;
  lastRequestAt: string | null;
  lastUpstreamError: string | null;
}

export interface SignedInUser {
  id: string;
  email: string;
  name: string | null;
}

export interface AppState {
  serverUrl: string | null;
  serverReachable: boolean;
  user: SignedInUser | null;
  key: KeyInfo | null;
  keyHealth: KeyHealth;
  proxy: ProxyStatus;
  /** Every client, installed ones first, then the project files configured. */
  clients: ClientListing[];
  /** What the app configured by itself, shown with an undo; `null` when nothing is pending. */
  autoConfigured: AutoConfiguredClient | null;
  providers: ProviderInfo[];
  /** A short line for the tray menu and the window header. */
  summary: string;
  /** connected: all good; attention: something to fix (e.g. key rejected, client drift); error. */
  level: 'connected' | 'attention' | 'error' | 'signed-out';
}

export interface SignInInput {
  serverUrl: string;
  email: string;
  password: string;
  /** Create the account first (where the server allows registration). */
  createAccount?: boolean;
  name?: string;
  /** Confirms a plain http:// URL to a host other than loopback. */
  allowInsecure?: boolean;
}

/** Sign-in through the system browser (RFC 8252): the server's own pages, password or SSO. */
export interface BrowserSignInInput {
  serverUrl: string;
  /** Confirms a plain http:// URL to a host other than loopback. */
  allowInsecure?: boolean;
}

export interface Settings {
  serverUrl: string | null;
  proxyPort: number;
  startAtLogin: boolean;
  /** After sign-in, write Cursor's entry when Cursor is installed and has none (default on). */
  autoConfigureCursor: boolean;
}

/** Methods: each is an `ipcRenderer.invoke` on channel `pm-mcp:<name>`. */
export interface DesktopApi {
  getState(): Promise<AppState>;
  signIn(input: SignInInput): Promise<AppState>;
  /**
   * Opens the system browser at the server's sign-in page and waits (a few minutes at most) for
   * it to come back; then signs in exactly as `signIn` does.
   */
  signInWithBrowser(input: BrowserSignInInput): Promise<AppState>;
  /** Gives up the browser sign-in in progress (it then fails with `browser_sign_in_failed`). */
  cancelBrowserSignIn(): Promise<void>;
  signOut(): Promise<AppState>;
  listKeys(): Promise<KeyInfo[]>;
  revokeKey(id: string): Promise<KeyInfo[]>;
  /** Changes a key's tool and project limits (needs the signed-in session); the keys after. */
  setKeyLimits(id: string, limits: LimitsChange): Promise<KeyInfo[]>;
  /** The editors signed in with OAuth (their grants). */
  listGrants(): Promise<GrantInfo[]>;
  /** Revokes a grant (needs the signed-in session); the grants after. */
  revokeGrant(id: string): Promise<GrantInfo[]>;
  /** Changes a grant's tool and project limits (needs the signed-in session); the grants after. */
  setGrantLimits(id: string, limits: LimitsChange): Promise<GrantInfo[]>;
  /** Rotates this machine's key; the proxy uses the new key at once. */
  rotateKey(): Promise<RotatedKey>;
  /** Mints a fresh key for this machine after the old one was revoked or expired. */
  replaceRejectedKey(): Promise<AppState>;
  configureClient(client: ClientId): Promise<ClientStatus>;
  unconfigureClient(client: ClientId): Promise<ClientStatus>;
  /** Restores the file the app configured by itself as it was before (and turns that off). */
  undoAutoConfigure(): Promise<AppState>;
  /** Keeps what the app configured by itself; the undo is no longer offered. */
  keepAutoConfigure(): Promise<AppState>;
  listProviders(): Promise<ProviderInfo[]>;
  addProvider(input: AddProviderInput): Promise<ProviderInfo>;
  testProvider(id: string): Promise<ProviderTestResult>;
  removeProvider(id: string): Promise<ProviderInfo[]>;
  getSettings(): Promise<Settings>;
  updateSettings(patch: Partial<Settings>): Promise<Settings>;
}

export type DesktopMethod = keyof DesktopApi;

/** Events pushed from main to the window. */
export interface DesktopEvents {
  stateChanged: AppState;
}

/** What preload exposes on `window.pmMcp`. */
export interface PreloadApi extends DesktopApi {
  onStateChanged(listener: (state: AppState) => void): () => void;
}

/** Errors cross IPC as this shape (Electron keeps only `message` of thrown errors). */
export interface DesktopApiError {
  code: string;
  message: string;
}

export const ipcChannel = (method: DesktopMethod | keyof DesktopEvents): string =>
  `pm-mcp:${method}`;
