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
 * An MCP extension of VS Code that keeps its servers in a JSON file of its global storage,
 * `mcpServers` → `{ type, url, headers }` (the streamable HTTP type's spelling differs).
 */
function vscodeExtension(extension: {
  id: ClientDefinition['id'];
  label: string;
  extensionId: string;
  /** Below the global storage folder. */
  file: readonly string[];
  transportType: string;
  note: string;
}): ClientDefinition {
  const storage = (environment: ClientEnvironment) =>
    globalStorage(environment, extension.extensionId);
  return {
    id: extension.id,
    label: extension.label,
    format: 'json',
    slot: mcpServersSlot,
    delivery: 'file',
    scopes: ['user'],
    ownedInputIds: [],
    installEvidence(environment) {
      return { paths: [storage(environment)], commands: [] };
    },
    configPath(_scope, options) {
      const p = pathFor(options.environment.platform);
      return p.join(storage(options.environment), ...extension.file);
    },
    desiredConfig(target) {
      return {
        entry: {
          type: extension.transportType,
          url: targetUrl(target),
          headers: authHeaders(target),
        },
        inputs: [],
        holdsSecret: true,
        notes: [extension.note],
      };
    },
  };
}

/**
 * Cline (VS Code extension `saoudrizwan.claude-dev`): `settings/cline_mcp_settings.json` in its
 * global storage, `mcpServers` → `{ type: "streamableHttp", url, headers }` (without `type` a URL
 * is taken for SSE).
 */
export const cline = vscodeExtension({
  id: 'cline',
  label: 'Cline',
  extensionId: 'saoudrizwan.claude-dev',
  file: ['settings', 'cline_mcp_settings.json'],
  transportType: 'streamableHttp',
  note: "Cline watches this file; pm-server appears in Cline's MCP Servers view.",
});

/**
 * Roo Code (VS Code extension `rooveterinaryinc.roo-cline`): `settings/mcp_settings.json` in its
 * global storage, `mcpServers` → `{ type: "streamable-http", url, headers }`.
 */
export const rooCode = vscodeExtension({
  id: 'roo-code',
  label: 'Roo Code',
  extensionId: 'rooveterinaryinc.roo-cline',
  file: ['settings', 'mcp_settings.json'],
  transportType: 'streamable-http',
  note: "Roo Code watches this file; pm-server appears in Roo Code's MCP settings view.",
});
