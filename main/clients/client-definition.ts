import type { ClientId } from '../../preload/contract.js';
import type { ClientEnvironment, ClientOptions, ClientScope } from './environment.js';
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
  /** Our entry, written at `[topKey, "pm-server"]`. */
  entry: JsonObject;
  /** VS Code only: the `inputs` the entry refers to. */
  inputs: PromptStringInput[];
  /** True when the entry carries a literal secret; the file then gets mode 0600. */
  holdsSecret: boolean;
  /** What the user should know or do next, in plain words. */
  notes: string[];
}

/** One client: where its files live and what our entry looks like there. */
export interface ClientDefinition {
  id: ClientId;
  label: string;
  topKey: 'mcpServers' | 'servers';
  /** Scopes this client has; the first is the default. */
  scopes: readonly ClientScope[];
  /** Ids of `inputs` items we may have written (removed again when unused or on unconfigure). */
  ownedInputIds: readonly string[];
  configPath(scope: ClientScope, options: ClientOptions): string;
  /** Whether the client is installed on this machine (see install-detection.ts). */
  detectInstalled(environment: ClientEnvironment): Promise<boolean>;
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
