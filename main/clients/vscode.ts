import type { ClientDefinition, PromptStringInput } from './client-definition.js';
import { authHeaders, secretWords, targetUrl } from './client-definition.js';
import type { ClientScope } from './environment.js';
import { appDataDir, pathFor, requireProjectDir } from './environment.js';
import type { JsonObject } from './jsonc-edit.js';
import type { ClientTarget } from './target.js';

/** Ids of the `inputs` items our workspace entry refers to. */
export const vscodeInputIds = {
  localToken: 'pm-mcp-local-token',
  apiKey: 'pm-mcp-api-key',
} as const;

function promptFor(target: ClientTarget): PromptStringInput {
  return target.mode === 'proxy'
    ? {
        type: 'promptString',
        id: vscodeInputIds.localToken,
        description: 'PM MCP: the local proxy token of this install',
        password: true,
      }
    : {
        type: 'promptString',
        id: vscodeInputIds.apiKey,
        description: 'PM MCP: your MCP key',
        password: true,
      };
}

/** VS Code's entry and inputs; the workspace form names the secret as `${input:id}`. */
export function vscodeEntry(
  target: ClientTarget,
  scope: ClientScope,
): { entry: JsonObject; inputs: PromptStringInput[] } {
  if (scope === 'user') {
    return {
      entry: { type: 'http', url: targetUrl(target), headers: authHeaders(target) },
      inputs: [],
    };
  }
  const input = promptFor(target);
  return {
    entry: {
      type: 'http',
      url: targetUrl(target),
      headers: authHeaders(target, () => `\${input:${input.id}}`),
    },
    inputs: [input],
  };
}

/**
 * VS Code (Copilot): user `mcp.json` in the profile folder (`~/.config/Code/User`,
 * `~/Library/Application Support/Code/User`, `%APPDATA%\Code\User`) or the workspace's
 * `.vscode/mcp.json`; `servers` → `{ type: "http", url, headers }`. The workspace file refers to
 * the secret as `${input:id}` with a `promptString` input (`password: true`): VS Code asks once
 * and keeps the value in its own secret storage.
 */
export const vscode: ClientDefinition = {
  id: 'vscode',
  label: 'VS Code',
  format: 'json',
  slot: { section: ['servers'], kind: 'map' },
  delivery: 'file',
  scopes: ['user', 'project'],
  installEvidence(environment) {
    const p = pathFor(environment.platform);
    return { paths: [p.join(appDataDir(environment), 'Code')], commands: ['code'] };
  },
  ownedInputIds: [vscodeInputIds.localToken, vscodeInputIds.apiKey],
  configPath(scope, options) {
    const p = pathFor(options.environment.platform);
    return scope === 'user'
      ? p.join(appDataDir(options.environment), 'Code', 'User', 'mcp.json')
      : p.join(requireProjectDir(options), '.vscode', 'mcp.json');
  },
  desiredConfig(target, scope) {
    const startNote = 'Start pm-server from the MCP servers list in VS Code (or restart VS Code).';
    if (scope === 'user') {
      return {
        ...vscodeEntry(target, scope),
        holdsSecret: true,
        notes: [startNote],
      };
    }
    return {
      ...vscodeEntry(target, scope),
      holdsSecret: false,
      notes: [
        `The workspace file holds no secret: VS Code asks for ${secretWords(target)} the first ` +
          'time it starts pm-server and keeps it in its secret storage.',
        startNote,
      ],
    };
  },
};
