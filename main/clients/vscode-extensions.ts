import type { ClientDefinition } from './client-definition.js';
import { authHeaders, mcpServersSlot, targetUrl } from './client-definition.js';
import type { ClientEnvironment } from './environment.js';
import { appDataDir, pathFor } from './environment.js';

/** A VS Code extension's global storage folder (`<appData>/Code/User/globalStorage/<id>`). */
function globalStorage(environment: ClientEnvironment, extensionId: string): string {
  const p = pathFor(environment.platform);
  return p.join(appDataDir(environment), 'Code', 'User', 'globalStorage', extensionId);
}

/**
 * Cline (VS Code extension `saoudrizwan.claude-dev`): `settings/cline_mcp_settings.json` in its
 * global storage, `mcpServers` → `{ type: "streamableHttp", url, headers }` (without `type` a URL
 * is taken for SSE).
 */
export const cline: ClientDefinition = {
  id: 'cline',
  label: 'Cline',
  format: 'json',
  slot: mcpServersSlot,
  delivery: 'file',
  scopes: ['user'],
  ownedInputIds: [],
  installEvidence(environment) {
    return { paths: [globalStorage(environment, 'saoudrizwan.claude-dev')], commands: [] };
  },
  configPath(_scope, options) {
    const p = pathFor(options.environment.platform);
    const storage = globalStorage(options.environment, 'saoudrizwan.claude-dev');
    return p.join(storage, 'settings', 'cline_mcp_settings.json');
  },
  desiredConfig(target) {
    return {
      entry: { type: 'streamableHttp', url: targetUrl(target), headers: authHeaders(target) },
      inputs: [],
      holdsSecret: true,
      notes: ["Cline watches this file; pm-server appears in Cline's MCP Servers view."],
    };
  },
};

/**
 * Roo Code (VS Code extension `rooveterinaryinc.roo-cline`): `settings/mcp_settings.json` in its
 * global storage, `mcpServers` → `{ type: "streamable-http", url, headers }`.
 */
export const rooCode: ClientDefinition = {
  id: 'roo-code',
  label: 'Roo Code',
  format: 'json',
  slot: mcpServersSlot,
  delivery: 'file',
  scopes: ['user'],
  ownedInputIds: [],
  installEvidence(environment) {
    return { paths: [globalStorage(environment, 'rooveterinaryinc.roo-cline')], commands: [] };
  },
  configPath(_scope, options) {
    const p = pathFor(options.environment.platform);
    const storage = globalStorage(options.environment, 'rooveterinaryinc.roo-cline');
    return p.join(storage, 'settings', 'mcp_settings.json');
  },
  desiredConfig(target) {
    return {
      entry: { type: 'streamable-http', url: targetUrl(target), headers: authHeaders(target) },
      inputs: [],
      holdsSecret: true,
      notes: ["Roo Code watches this file; pm-server appears in Roo Code's MCP settings view."],
    };
  },
};
