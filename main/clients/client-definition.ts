import type { ClientId } from '../../preload/contract.js';
import { DesktopError } from '../errors.js';
import type { ConfigFormat, EntrySlot } from './document.js';
import type { ClientEnvironment, ClientOptions, ClientScope } from './environment.js';
import { pathFor } from './environment.js';
import type { JsonObject } from './jsonc-edit.js';
import type { ClientTarget } from './target.js';

/** The name of our entry in every client's file. */
export const serverEntryName = 'pm-server';

/** A VS Code `inputs` item: VS Code asks for the value once and keeps it in its secret storage. */
export interface PromptStringInput extends JsonObject {
  type: 'promptString';
  id: string;
  description: string;
  password: true;
}

/** What we write for one client and scope. */
export interface DesiredConfig {
  /** Our entry, written at the client's slot under the name "pm-server". */
  entry: JsonObject;
  /** VS Code only: the `inputs` the entry refers to. */
  inputs: PromptStringInput[];
  /** True when the entry carries a literal secret; the file then gets mode 0600. */
  holdsSecret: boolean;
  /** What the user should know or do next, in plain words. */
  notes: string[];
}

/** Signs that a client is installed: any of these folders or files, or a command on PATH. */
export interface InstallEvidence {
  paths: string[];
  commands: string[];
}

/** One client: where its files live and what our entry looks like there. */
export interface ClientDefinition {
  id: ClientId;
  label: string;
  format: ConfigFormat;
  /** Where our entry lives in the file. */
  slot: EntrySlot;
  /**
   * `file`: we edit the client's file. `paste`: the client keeps its MCP servers where we cannot
   * write them (JetBrains AI Assistant's settings); configure returns the JSON to paste instead.
   */
  delivery: 'file' | 'paste';
  /** Scopes this client has; the first is the default. */
  scopes: readonly ClientScope[];
  /** Fields a file we create starts with, when the client needs more than our entry (Continue). */
  newFileHeader?(scope: ClientScope): JsonObject | undefined;
  /**
   * True for a scope whose whole file is ours (Continue's `.continue/mcpServers/pm-server.yaml`):
   * unconfigure deletes the file when nothing but our entry and the header is left in it.
   */
  ownsFile?(scope: ClientScope): boolean;
  installEvidence(environment: ClientEnvironment): InstallEvidence;
  /** Ids of `inputs` items we may have written (removed again when unused or on unconfigure). */
  ownedInputIds: readonly string[];
  configPath(scope: ClientScope, options: ClientOptions): string;
  desiredConfig(
    target: ClientTarget,
    scope: ClientScope,
    environment: ClientEnvironment,
  ): DesiredConfig;
}

/** Environment variables a project-level file refers to instead of holding the secret. */
export const secretEnvNames = {
  localToken: 'PM_MCP_LOCAL_TOKEN',
  apiKey: 'PM_MCP_API_KEY',
} as const;

/** How a project-level file names the secret: `${env:NAME}`, `${NAME}`, `${input:id}`. */
export type SecretReference = (secret: keyof typeof secretEnvNames) => string;

/** The URL our entry points at. */
export function targetUrl(target: ClientTarget): string {
  return target.mode === 'proxy' ? target.proxyUrl : target.serverUrl;
}

/**
 * The headers our entry sends: the local token for the proxy, or the MCP key for the server.
 * With a `reference`, a placeholder stands where the secret would be.
 */
export function authHeaders(target: ClientTarget, reference?: SecretReference): JsonObject {
  if (target.mode === 'proxy') {
    return { Authorization: `Bearer ${reference ? reference('localToken') : target.localToken}` };
  }
  return { 'X-MCP-API-Key': reference ? reference('apiKey') : target.apiKey };
}

/** Words for the secret a target uses, for notes and messages. */
export function secretWords(target: ClientTarget): string {
  return target.mode === 'proxy' ? "this install's local proxy token" : 'your MCP key';
}

/** The note for a project file that reads its secret from an environment variable. */
export function envVariableNote(label: string, target: ClientTarget): string {
  const name = target.mode === 'proxy' ? secretEnvNames.localToken : secretEnvNames.apiKey;
  return (
    `The project file holds no secret: ${label} reads ${secretWords(target)} from the ` +
    `environment variable ${name}, so start ${label} from an environment where it is set.`
  );
}

/** The map slot `mcpServers` that most clients share. */
export const mcpServersSlot: EntrySlot = { section: ['mcpServers'], kind: 'map' };

/**
 * The stdio entry that runs our bridge (`{ command, args }`), for clients that cannot send a
 * header to a URL. The bridge reads its secret from the keychain, so the entry holds none and is
 * the same in proxy and direct mode (the caller picks the bridge's arguments).
 */
export function bridgeEntry(
  target: ClientTarget,
  label: string,
  environment: ClientEnvironment,
): { entry: JsonObject; notes: string[] } {
  const { bridgeCommand, bridgeArgs = [] } = target;
  if (bridgeCommand === undefined) {
    throw new DesktopError(
      'usage',
      `${label} connects only through a local command: the bridge command is missing.`,
    );
  }
  const notes: string[] = [];
  if (!pathFor(environment.platform).isAbsolute(bridgeCommand)) {
    notes.push(
      `"${bridgeCommand}" is not an absolute path; ${label} may not see your shell's PATH and ` +
        'fail to start it.',
    );
  }
  return { entry: { command: bridgeCommand, args: [...bridgeArgs] }, notes };
}
