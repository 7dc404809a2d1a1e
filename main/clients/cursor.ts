import type { ClientDefinition } from './client-definition.js';
import {
  authHeaders,
  mcpServersSlot,
  envVariableNote,
  secretEnvNames,
  targetUrl,
} from './client-definition.js';
import type { ClientScope } from './environment.js';
import { appDataDir, pathFor, requireProjectDir } from './environment.js';
import type { JsonObject } from './jsonc-edit.js';
import type { ClientTarget } from './target.js';

/** Cursor's entry; the project form names the secret as `${env:NAME}` instead of holding it. */
export function cursorEntry(target: ClientTarget, scope: ClientScope): JsonObject {
  return scope === 'user'
    ? { url: targetUrl(target), headers: authHeaders(target) }
    : {
        url: targetUrl(target),
        headers: authHeaders(target, (secret) => `\${env:${secretEnvNames[secret]}}`),
      };
}

/**
 * Cursor: `~/.cursor/mcp.json` (Windows `%USERPROFILE%\.cursor\mcp.json`) or
 * `<project>/.cursor/mcp.json`; `mcpServers` → `{ url, headers }` (transport auto-detected).
 * The project file refers to the secret as `${env:NAME}`, which Cursor interpolates.
 */
export const cursor: ClientDefinition = {
  id: 'cursor',
  label: 'Cursor',
  format: 'json',
  slot: mcpServersSlot,
  delivery: 'file',
  scopes: ['user', 'project'],
  installEvidence(environment) {
    const p = pathFor(environment.platform);
    // ~/.cursor holds its extensions and argv.json; appData/Cursor its user data.
    return {
      paths: [p.join(environment.homeDir, '.cursor'), p.join(appDataDir(environment), 'Cursor')],
      commands: ['cursor'],
    };
  },
  ownedInputIds: [],
  configPath(scope, options) {
    const p = pathFor(options.environment.platform);
    return scope === 'user'
      ? p.join(options.environment.homeDir, '.cursor', 'mcp.json')
      : p.join(requireProjectDir(options), '.cursor', 'mcp.json');
  },
  desiredConfig(target, scope) {
    const reloadNote =
      'Cursor notices the change by itself; if pm-server does not connect, restart Cursor.';
    const userScope = scope === 'user';
    return {
      entry: cursorEntry(target, scope),
      inputs: [],
      holdsSecret: userScope,
      notes: userScope ? [reloadNote] : [envVariableNote('Cursor', target), reloadNote],
    };
  },
};
