/**
 * Client configuration: points AI editors at PM MCP by editing their own config files.
 * Shared by the tray app, the `pm-mcp` CLI and the tests; plain Node, everything passed in.
 *
 * API (all paths computed from `options.environment`, never from `process`/`os`):
 *
 *   configureClient(client, target, options)   → Promise<ConfigureResult>
 *   unconfigureClient(client, options)         → Promise<UnconfigureResult>
 *   inspectClient(client, target, options)     → Promise<ClientInspection>
 *   inspectAllClients(target, options)         → Promise<ClientInspection[]>
 *   planConfigureClient / planUnconfigureClient → Promise<ClientConfigPlan>, then
 *   applyClientConfigPlan(plan)                → Promise<ClientChangeResult>
 *     (read now, write later: the write is refused if the file changed in between)
 *   clientConfigPath(client, options), clientScope(client, options), toClientStatus(x),
 *   parseClientId(value), parseClientTarget(value), proxyMcpUrl(port), serverMcpUrl(base)
 *   desiredClientConfig(client, target, options) — the entry we would write
 *   cursorInstallLink / vscodeInstallLink / installLinkFor (./deep-links.js) — secret-free forms only
 *   isClientInstalled(client, environment) — the definition's install evidence (folders, commands)
 *
 * `client` is the IPC contract's `ClientId`; `target` is `{ mode: 'proxy', proxyUrl, localToken }`
 * or `{ mode: 'direct', serverUrl, apiKey }`, plus `{ bridgeCommand, bridgeArgs }` for Claude
 * Desktop; `options` is `{ environment: { homeDir, platform, env }, projectDir? }` — with
 * `projectDir` (absolute) the project-level file is used.
 *
 * Files and entries (docs/CLIENTS.md has every client with its sources), our entry is always
 * named `pm-server`:
 *   cursor          ~/.cursor/mcp.json | <project>/.cursor/mcp.json   mcpServers: { url, headers }
 *   vscode          <profile>/Code/User/mcp.json | <project>/.vscode/mcp.json
 *                                                        servers: { type: "http", url, headers }
 *   claude-code     ~/.claude.json | <project>/.mcp.json  mcpServers: { type: "http", url, headers }
 *   windsurf        ~/.codeium/windsurf/mcp_config.json   mcpServers: { serverUrl, headers }
 *   claude-desktop  <appData>/Claude/claude_desktop_config.json  mcpServers: { command, args }
 *   gemini-cli      ~/.gemini/settings.json | <project>/.gemini/settings.json
 *                                                        mcpServers: { httpUrl, headers }
 *   qwen-code       ~/.qwen/settings.json | <project>/.qwen/settings.json   (as Gemini CLI)
 *   codex           ~/.codex/config.toml | <project>/.codex/config.toml (TOML)
 *                                     [mcp_servers.pm-server] url, http_headers (project: env names)
 *   zed             <zed config>/settings.json             context_servers: { url, headers }
 *   cline, roo-code <appData>/Code/User/globalStorage/<extension>/settings/…json
 *                                        mcpServers: { type: streamableHttp | streamable-http, … }
 *   continue        ~/.continue/config.yaml | <project>/.continue/mcpServers/pm-server.yaml (YAML)
 *                                        mcpServers: [ { name: pm-server, command, args } ] (bridge)
 *   goose           ~/.config/goose/config.yaml (YAML)    extensions: { type: streamable_http, uri, headers, … }
 *   opencode        ~/.config/opencode/opencode.json | <project>/opencode.json
 *                                                        mcp: { type: remote, url, headers, enabled }
 *   jetbrains       no file: configure returns the JSON to paste (`copyText`, bridge)
 *   lm-studio       ~/.lmstudio/mcp.json                   mcpServers: { url, headers }
 *   amazon-q        ~/.aws/amazonq/mcp.json | <project>/.amazonq/mcp.json  mcpServers: bridge
 * Proxy mode sends `Authorization: Bearer <local token>` to the loopback proxy; direct mode sends
 * `X-MCP-API-Key: <key>` to the server.
 *
 * Secrets and project files. A project-level file may be committed, so it never holds a secret,
 * in either mode — not even the local token (it is per install and useless elsewhere, but a
 * token in a repository is still a leaked token). Instead the entry names the secret and the
 * editor fills it in: VS Code `${input:pm-mcp-local-token}` (or `pm-mcp-api-key`) with a
 * `promptString` input, `password: true` (asked once, kept in VS Code's secret storage); Cursor
 * `${env:PM_MCP_LOCAL_TOKEN}` (or `PM_MCP_API_KEY`); Claude Code `${PM_MCP_LOCAL_TOKEN}`. The
 * result's `notes` tell the user what to set. User-level files hold the literal secret and get
 * mode 0600. Claude Desktop's file never holds one (the bridge reads the keychain).
 *
 * Editing rules: JSONC through `jsonc-parser`, YAML through `yaml`'s Document API, TOML through
 * `@decimalturn/toml-patch` (document.ts); only our entry (and, for a VS Code workspace, our own
 * `inputs` items) is edited, so other entries, comments and formatting stay; a file that does
 * not parse is never touched (`config_unparseable` with line and column); the folder and file
 * are created when missing; the original is backed up once to `<real file>.pm-mcp.bak` before the
 * first change, with every MCP key in it replaced by a marker — a key that was in the file and is
 * gone after our change, or that an older backup held, is reported in `exposedKeyPrefixes` (its
 * 12-character display prefix) so the user can revoke it; the file is re-read just before writing and
 * the write refused if it changed (`config_changed_meanwhile`); writes are atomic; symlinks are
 * followed (the target changes, the link stays); the file's mode is kept, or set to 0600 when it
 * holds a token. An unchanged entry is not rewritten.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ClientConfigState, ClientId, ClientStatus } from '../../preload/contract.js';
import { clientIds } from '../../preload/contract.js';
import { DesktopError, isDesktopError } from '../errors.js';
import type { ClientDefinition, DesiredConfig } from './client-definition.js';
import { serverEntryName } from './client-definition.js';
import type { ConfigSnapshot } from './config-file.js';
import {
  parseSnapshot,
  readConfigSnapshot,
  removeConfigFile,
  setConfigMode,
  unparseableError,
  writeConfigText,
} from './config-file.js';
import { anyEvidence } from './detect.js';
import {
  entryIn,
  newDocumentText,
  parseConfigDocument,
  sectionValue,
  setEntryInText,
} from './document.js';
import type { ClientEnvironment, ClientOptions, ClientScope } from './environment.js';
import type { JsonObject, JsonValue } from './jsonc-edit.js';
import { detectFormatting, isJsonObject, setJsoncValue } from './jsonc-edit.js';
import { displayPrefix, mcpKeysIn } from './secret-scrub.js';
import { clientDefinitions } from './registry.js';
import type { ClientTarget } from './target.js';
import { parseClientTarget } from './target.js';

export type { ClientEnvironment, ClientOptions, ClientScope } from './environment.js';
export type { BridgeCommand, ClientTarget, DirectTarget, ProxyTarget } from './target.js';
export { parseClientTarget, proxyMcpUrl, serverMcpUrl } from './target.js';
export type { DesiredConfig, PromptStringInput } from './client-definition.js';
export { secretEnvNames, serverEntryName } from './client-definition.js';
export { vscodeInputIds } from './vscode.js';
export { backupSuffix } from './config-file.js';
export { removedKeyMarker } from './secret-scrub.js';
export {
  cursorInstallLink,
  installLinkFor,
  vscodeInsidersInstallLink,
  vscodeInstallLink,
} from './deep-links.js';

/** A client's state, shaped as the IPC contract's `ClientStatus` plus the scope looked at. */
export interface ClientInspection extends ClientStatus {
  scope: ClientScope;
}

/** What a configure or unconfigure did. */
export interface ClientChangeResult extends ClientInspection {
  /** The file really written (symlinks resolved). */
  realPath: string;
  /** The backup of the original (made now or before), `null` when there was no file to back up. */
  backupPath: string | null;
  /** Whether the file's content or mode changed. */
  changed: boolean;
  /** What the user should know or do next. */
  notes: string[];
  /**
   * Display prefixes (12 characters, never the key) of MCP keys this change took out of the
   * client's files: a key the file held before and no longer holds (e.g. a direct-mode entry
   * replaced by proxy mode), or one an older backup kept. Such a key sat in a plain file: offer to
   * revoke it.
   */
  exposedKeyPrefixes: string[];
  /** A client PM MCP cannot write (JetBrains): the JSON for the user to paste. Holds no secret. */
  copyText?: string;
}

export type ConfigureResult = ClientChangeResult;

export interface UnconfigureResult extends ClientChangeResult {
  /** Whether our entry was there and is now gone. */
  removed: boolean;
}

/** A change computed from the file as read now, to be applied (and re-checked) later. */
export interface ClientConfigPlan {
  readonly action: 'configure' | 'unconfigure';
  readonly client: ClientId;
  readonly label: string;
  readonly scope: ClientScope;
  readonly snapshot: ConfigSnapshot;
  /** The full new text (may hold a secret: keep the plan in memory, never send it anywhere). */
  readonly newText: string;
  readonly textChanged: boolean;
  /** Permission bits to write, or to set on an unchanged file when `modeChanged`. */
  readonly mode: number;
  readonly modeChanged: boolean;
  readonly holdsSecret: boolean;
  /** Unconfigure only: whether our entry (or our inputs) were there. */
  readonly removesEntry: boolean;
  /** Unconfigure of a file that only held our entry: delete it instead of writing `newText`. */
  readonly deletesFile: boolean;
  readonly notes: readonly string[];
  readonly posix: boolean;
  /** Display prefixes of MCP keys in the file now that `newText` no longer holds. */
  readonly keysLeavingFile: readonly string[];
  /** `paste` clients only: the JSON to paste; nothing is read or written. */
  readonly copyText?: string;
}

const secretFileMode = 0o600;
const newFileMode = 0o644;

function definitionOf(client: ClientId): ClientDefinition {
  // The table is typed by ClientId, but callers may come from untyped input (CLI, IPC).
  const definition = (clientDefinitions as Partial<Record<string, ClientDefinition>>)[client];
  if (definition === undefined) {
    throw new DesktopError(
      'usage',
      `Unknown client "${client}"; choose one of ${clientIds.join(', ')}.`,
    );
  }
  return definition;
}

/** Checks a client name from untyped input (CLI argument, IPC). */
export function parseClientId(value: unknown): ClientId {
  const match = clientIds.find((id) => id === value);
  if (match === undefined) {
    throw new DesktopError(
      'usage',
      `Unknown client "${String(value)}"; choose one of ${clientIds.join(', ')}.`,
    );
  }
  return match;
}

/** `project` when a project folder is given, else `user`; refuses a client without project files. */
export function clientScope(client: ClientId, options: ClientOptions): ClientScope {
  const definition = definitionOf(client);
  if (options.projectDir === undefined) return 'user';
  if (!definition.scopes.includes('project')) {
    throw new DesktopError(
      'usage',
      `${definition.label} has no project-level configuration; configure it without a project folder.`,
    );
  }
  return 'project';
}

/** The file a client's entry goes into. */
export function clientConfigPath(client: ClientId, options: ClientOptions): string {
  return definitionOf(client).configPath(clientScope(client, options), options);
}

/** The entry (and VS Code inputs) we would write, validated; for previews and deep links. */
export function desiredClientConfig(
  client: ClientId,
  target: ClientTarget,
  options: ClientOptions,
): DesiredConfig {
  const definition = definitionOf(client);
  return definition.desiredConfig(
    parseClientTarget(target),
    clientScope(client, options),
    options.environment,
  );
}

/** Our entry in the parsed file, or `undefined`; refuses a section of the wrong kind. */
function entryOf(
  root: JsonObject,
  definition: ClientDefinition,
  filePath: string,
): JsonValue | undefined {
  const section = sectionValue(root, definition.slot);
  if (!section.ok) throw unparseableError(filePath, section.problem, definition.format);
  return entryIn(section.value, definition.slot, serverEntryName);
}

function inputsOf(root: JsonObject, filePath: string): JsonValue[] {
  const inputs = root.inputs;
  if (inputs === undefined) return [];
  if (!Array.isArray(inputs)) throw unparseableError(filePath, '"inputs" is not a list');
  return inputs;
}

function inputId(item: JsonValue | undefined): string | undefined {
  return isJsonObject(item) && typeof item.id === 'string' ? item.id : undefined;
}

/** Sets our entry (or removes it with `desired` null) and brings our VS Code inputs in line. */
function editedText(
  snapshot: ConfigSnapshot,
  definition: ClientDefinition,
  scope: ClientScope,
  desired: DesiredConfig | null,
): string {
  let text = snapshot.text;
  const header = definition.newFileHeader?.(scope);
  if (desired !== null && header !== undefined && text.trim() === '') {
    // A new file starts with the fields the client needs besides our entry.
    text = newDocumentText(definition.format, header);
  }
  const root = parseSnapshot(snapshot, definition.format);
  const current = entryOf(root, definition, snapshot.path);
  try {
    if (desired !== null && !isDeepStrictEqual(current, desired.entry)) {
      text = setEntryInText(
        definition.format,
        text,
        definition.slot,
        serverEntryName,
        desired.entry,
      );
    } else if (desired === null && current !== undefined) {
      text = setEntryInText(definition.format, text, definition.slot, serverEntryName, undefined);
    }
  } catch (error) {
    if (isDesktopError(error)) throw error;
    throw unparseableError(
      snapshot.path,
      error instanceof Error ? error.message : String(error),
      definition.format,
    );
  }
  const formatting = detectFormatting(text);
  if (definition.ownedInputIds.length === 0) return text;

  // Each edit moves offsets, so every step works on the text as it is after the previous one.
  const currentRoot = (): JsonObject => {
    const parsed = parseConfigDocument('json', text);
    if (!parsed.ok) throw unparseableError(snapshot.path, parsed.problem);
    return parsed.root;
  };
  const wanted = desired?.inputs ?? [];
  for (const input of wanted) {
    const latest = currentRoot();
    const inputs = inputsOf(latest, snapshot.path);
    const index = inputs.findIndex((item) => inputId(item) === input.id);
    if (index >= 0) {
      if (!isDeepStrictEqual(inputs[index], input)) {
        text = setJsoncValue(text, ['inputs', index], input, formatting);
      }
    } else if (latest.inputs !== undefined) {
      text = setJsoncValue(text, ['inputs', -1], input, formatting);
    } else {
      text = setJsoncValue(text, ['inputs'], [input], formatting);
    }
  }
  // Drop our inputs that the entry no longer refers to (mode switched, or unconfigured).
  const wantedIds = new Set(wanted.map((input) => input.id));
  for (;;) {
    const index = inputsOf(currentRoot(), snapshot.path).findIndex((item) => {
      const id = inputId(item);
      return id !== undefined && definition.ownedInputIds.includes(id) && !wantedIds.has(id);
    });
    if (index < 0) break;
    text = setJsoncValue(text, ['inputs', index], undefined, formatting);
  }
  return text;
}

function hasOwnInputs(root: JsonObject, definition: ClientDefinition, filePath: string): boolean {
  return inputsOf(root, filePath).some((item) => {
    const id = inputId(item);
    return id !== undefined && definition.ownedInputIds.includes(id);
  });
}

function isTooOpen(mode: number | null): boolean {
  return mode !== null && (mode & 0o077) !== 0;
}

/** Reads the file now and computes the configure change; `applyClientConfigPlan` writes it. */
export async function planConfigureClient(
  client: ClientId,
  target: ClientTarget,
  options: ClientOptions,
): Promise<ClientConfigPlan> {
  const definition = definitionOf(client);
  const scope = clientScope(client, options);
  const desired = definition.desiredConfig(parseClientTarget(target), scope, options.environment);
  if (definition.delivery === 'paste')
    return pastePlan('configure', definition, scope, options, desired);
  const snapshot = await readConfigSnapshot(definition.configPath(scope, options));
  const newText = editedText(snapshot, definition, scope, desired);
  const posix = options.environment.platform !== 'win32';
  const mode = desired.holdsSecret ? secretFileMode : (snapshot.mode ?? newFileMode);
  return {
    action: 'configure',
    client,
    label: definition.label,
    scope,
    snapshot,
    newText,
    textChanged: !snapshot.exists || newText !== snapshot.text,
    mode,
    modeChanged: posix && snapshot.mode !== null && snapshot.mode !== mode,
    holdsSecret: desired.holdsSecret,
    removesEntry: false,
    deletesFile: false,
    notes: desired.notes,
    posix,
    keysLeavingFile: keysLeaving(snapshot.text, newText),
  };
}

/** Display prefixes of the MCP keys in `before` that `after` no longer holds. */
function keysLeaving(before: string, after: string): string[] {
  const staying = new Set(mcpKeysIn(after));
  return mcpKeysIn(before)
    .filter((key) => !staying.has(key))
    .map(displayPrefix);
}

/** A client we cannot write (JetBrains): nothing is read or written; the JSON is returned. */
function pastePlan(
  action: 'configure' | 'unconfigure',
  definition: ClientDefinition,
  scope: ClientScope,
  options: ClientOptions,
  desired: DesiredConfig | null,
): ClientConfigPlan {
  const where = definition.configPath(scope, options);
  const snapshot: ConfigSnapshot = {
    path: where,
    realPath: where,
    exists: false,
    bytes: null,
    text: '',
    bom: false,
    mode: null,
  };
  const copyText =
    desired === null
      ? undefined
      : `${JSON.stringify({ [definition.slot.section[0] ?? 'mcpServers']: { [serverEntryName]: desired.entry } }, null, 2)}\n`;
  return {
    action,
    client: definition.id,
    label: definition.label,
    scope,
    snapshot,
    newText: '',
    textChanged: false,
    mode: newFileMode,
    modeChanged: false,
    holdsSecret: false,
    removesEntry: false,
    deletesFile: false,
    notes:
      desired === null
        ? [`Remove "${serverEntryName}" in ${where} yourself: PM MCP cannot edit those settings.`]
        : desired.notes,
    posix: options.environment.platform !== 'win32',
    keysLeavingFile: [],
    ...(copyText !== undefined ? { copyText } : {}),
  };
}

/** Whether `text` (our own file) holds nothing but our header and an empty servers section. */
function onlyHeaderLeft(text: string, definition: ClientDefinition, scope: ClientScope): boolean {
  const parsed = parseConfigDocument(definition.format, text);
  if (!parsed.ok) return false;
  const header = definition.newFileHeader?.(scope) ?? {};
  const sectionKey = definition.slot.section[0];
  return Object.entries(parsed.root).every(([key, value]) => {
    if (key === sectionKey) {
      return (
        value === null ||
        (Array.isArray(value)
          ? value.length === 0
          : isJsonObject(value) && Object.keys(value).length === 0)
      );
    }
    return key in header;
  });
}

/** Reads the file now and computes removing our entry; `applyClientConfigPlan` writes it. */
export async function planUnconfigureClient(
  client: ClientId,
  options: ClientOptions,
): Promise<ClientConfigPlan> {
  const definition = definitionOf(client);
  const scope = clientScope(client, options);
  if (definition.delivery === 'paste')
    return pastePlan('unconfigure', definition, scope, options, null);
  const snapshot = await readConfigSnapshot(definition.configPath(scope, options));
  const posix = options.environment.platform !== 'win32';
  let newText = snapshot.text;
  let removesEntry = false;
  if (snapshot.exists) {
    const root = parseSnapshot(snapshot, definition.format);
    removesEntry =
      entryOf(root, definition, snapshot.path) !== undefined ||
      (definition.ownedInputIds.length > 0 && hasOwnInputs(root, definition, snapshot.path));
    if (removesEntry) newText = editedText(snapshot, definition, scope, null);
  }
  const deletesFile =
    removesEntry &&
    definition.ownsFile?.(scope) === true &&
    onlyHeaderLeft(newText, definition, scope);
  return {
    action: 'unconfigure',
    client,
    label: definition.label,
    scope,
    snapshot,
    newText,
    textChanged: snapshot.exists && newText !== snapshot.text,
    mode: snapshot.mode ?? newFileMode,
    modeChanged: false,
    holdsSecret: false,
    removesEntry,
    deletesFile,
    notes: [],
    posix,
    keysLeavingFile: keysLeaving(snapshot.text, newText),
  };
}

/**
 * Writes a plan: refused with `config_changed_meanwhile` if the file no longer holds what the
 * plan read. Writes nothing when nothing changes.
 */
export async function applyClientConfigPlan(plan: ClientConfigPlan): Promise<ClientChangeResult> {
  const { snapshot } = plan;
  let backupPath: string | null = null;
  const exposed = new Set(plan.keysLeavingFile);
  if (plan.deletesFile) {
    await removeConfigFile(snapshot);
  } else if (plan.textChanged) {
    const written = await writeConfigText(snapshot, plan.newText, {
      mode: plan.mode,
      dirMode: plan.holdsSecret ? 0o700 : 0o755,
      posix: plan.posix,
    });
    backupPath = written.backupPath;
    for (const key of written.keysKeptOutOfBackup) {
      // A key still in the file is in use there (direct mode), not exposed by a stale copy.
      if (!plan.newText.includes(key)) exposed.add(displayPrefix(key));
    }
  } else if (plan.modeChanged) {
    await setConfigMode(snapshot, plan.mode);
  }
  const configured = plan.action === 'configure';
  return {
    client: plan.client,
    label: plan.label,
    scope: plan.scope,
    path: snapshot.path,
    realPath: snapshot.realPath,
    state: configured ? 'current' : 'missing',
    detail: configured ? null : `No "${serverEntryName}" entry in ${snapshot.path}.`,
    backupPath,
    changed: plan.textChanged || plan.modeChanged || plan.deletesFile,
    notes: [...plan.notes],
    exposedKeyPrefixes: [...exposed],
    ...(plan.copyText !== undefined ? { copyText: plan.copyText } : {}),
  };
}

/** Writes our entry into the client's file (see the editing rules above). */
export async function configureClient(
  client: ClientId,
  target: ClientTarget,
  options: ClientOptions,
): Promise<ConfigureResult> {
  return applyClientConfigPlan(await planConfigureClient(client, target, options));
}

/** Removes our entry (and only ours) from the client's file. */
export async function unconfigureClient(
  client: ClientId,
  options: ClientOptions,
): Promise<UnconfigureResult> {
  const plan = await planUnconfigureClient(client, options);
  const result = await applyClientConfigPlan(plan);
  return { ...result, removed: plan.removesEntry };
}

// Fields whose values are shown when they drift; header and env values never are (secrets).
const shownFields = new Set(['url', 'serverUrl', 'type', 'command']);

/** What differs between the entry found and the one we would write, without showing secrets. */
export function describeDrift(found: JsonValue, expected: JsonObject): string[] {
  if (!isJsonObject(found)) return ['it is not an object'];
  const differences: string[] = [];
  const keys = new Set([...Object.keys(expected), ...Object.keys(found)]);
  for (const key of keys) {
    const want = expected[key];
    const have = found[key];
    if (isDeepStrictEqual(want, have)) continue;
    if (have === undefined) differences.push(`"${key}" is missing`);
    else if (want === undefined) differences.push(`"${key}" was added`);
    else if ((key === 'headers' || key === 'env') && isJsonObject(want) && isJsonObject(have)) {
      for (const name of new Set([...Object.keys(want), ...Object.keys(have)])) {
        if (isDeepStrictEqual(want[name], have[name])) continue;
        if (have[name] === undefined) differences.push(`the ${name} header is missing`);
        else if (want[name] === undefined) differences.push(`a ${name} header was added`);
        else differences.push(`the ${name} header has a different value`);
      }
    } else if (shownFields.has(key) && typeof have === 'string' && typeof want === 'string') {
      differences.push(`"${key}" is "${have}" instead of "${want}"`);
    } else differences.push(`"${key}" differs`);
  }
  return differences;
}

function inspection(
  definition: ClientDefinition,
  scope: ClientScope,
  filePath: string,
  state: ClientConfigState,
  detail: string | null,
): ClientInspection {
  return { client: definition.id, label: definition.label, scope, path: filePath, state, detail };
}

/**
 * Whether our entry in the client's file is `current`, `changed` (drift: another program edited
 * it, it points elsewhere, or a token file became readable by others), `missing`, or the file is
 * `unparseable` (also used when it cannot be read at all). Never writes.
 */
export async function inspectClient(
  client: ClientId,
  target: ClientTarget,
  options: ClientOptions,
): Promise<ClientInspection> {
  const definition = definitionOf(client);
  const scope = clientScope(client, options);
  const desired = definition.desiredConfig(parseClientTarget(target), scope, options.environment);
  const filePath = definition.configPath(scope, options);
  const report = (state: ClientConfigState, detail: string | null) =>
    inspection(definition, scope, filePath, state, detail);

  if (definition.delivery === 'paste') {
    return report(
      'missing',
      `PM MCP cannot read ${filePath}: run "pm-mcp configure ${definition.id}" and paste the JSON it prints.`,
    );
  }
  let snapshot: ConfigSnapshot;
  let root: JsonObject;
  let entry: JsonValue | undefined;
  try {
    snapshot = await readConfigSnapshot(filePath);
    if (!snapshot.exists) return report('missing', `${filePath} does not exist yet.`);
    root = parseSnapshot(snapshot, definition.format);
    entry = entryOf(root, definition, filePath);
    inputsOf(root, filePath);
  } catch (error) {
    if (
      isDesktopError(error) &&
      (error.code === 'config_unparseable' || error.code === 'config_io')
    ) {
      return report('unparseable', error.message);
    }
    throw error;
  }
  if (entry === undefined) {
    return report('missing', `No "${serverEntryName}" entry in ${filePath}.`);
  }

  const differences = describeDrift(entry, desired.entry);
  const inputs = inputsOf(root, filePath);
  for (const input of desired.inputs) {
    const found = inputs.find((item) => inputId(item) === input.id);
    if (found === undefined) differences.push(`the "${input.id}" input is missing`);
    else if (!isDeepStrictEqual(found, input)) differences.push(`the "${input.id}" input differs`);
  }
  if (differences.length > 0) {
    return report(
      'changed',
      `The "${serverEntryName}" entry differs from what PM MCP would write: ` +
        `${differences.join('; ')}. Configure ${definition.label} again to repair it.`,
    );
  }
  const posix = options.environment.platform !== 'win32';
  if (desired.holdsSecret && posix && isTooOpen(snapshot.mode)) {
    return report(
      'changed',
      `${filePath} holds a token but other users may read it (mode ` +
        `${(snapshot.mode ?? 0).toString(8)}). Configure ${definition.label} again to restrict it to you.`,
    );
  }
  return report('current', null);
}

/**
 * Every client at once: the project-level file where a project folder is given and the client
 * has one, the user-level file otherwise. Claude Desktop needs `bridgeCommand` in the target.
 */
export async function inspectAllClients(
  target: ClientTarget,
  options: ClientOptions,
): Promise<ClientInspection[]> {
  const inspections: ClientInspection[] = [];
  for (const client of clientIds) {
    const supportsProject = definitionOf(client).scopes.includes('project');
    const clientOptions: ClientOptions = supportsProject
      ? options
      : { environment: options.environment };
    inspections.push(await inspectClient(client, target, clientOptions));
  }
  return inspections;
}

/** Whether a client looks installed on this machine (its folder exists or its command is on PATH). */
export async function isClientInstalled(
  client: ClientId,
  environment: ClientEnvironment,
): Promise<boolean> {
  return anyEvidence(definitionOf(client).installEvidence(environment), environment);
}

/** Every client with whether it looks installed, installed ones first (the table's order within each group). */
export async function detectInstalledClients(
  environment: ClientEnvironment,
): Promise<{ client: ClientId; label: string; installed: boolean }[]> {
  const all = await Promise.all(
    clientIds.map(async (client) => ({
      client,
      label: definitionOf(client).label,
      installed: await isClientInstalled(client, environment),
    })),
  );
  return [...all.filter((c) => c.installed), ...all.filter((c) => !c.installed)];
}

/** How a client receives our entry: `file` (we edit it) or `paste` (the user pastes our JSON). */
export function clientDelivery(client: ClientId): 'file' | 'paste' {
  return definitionOf(client).delivery;
}

/** Exactly the IPC contract's `ClientStatus` fields (drops scope, paths of backups, notes…). */
export function toClientStatus(status: ClientStatus): ClientStatus {
  return {
    client: status.client,
    label: status.label,
    path: status.path,
    state: status.state,
    detail: status.detail,
  };
}
