import type { ClientDefinition } from './client-definition.js';
import { authHeaders, mcpServersSlot, targetUrl } from './client-definition.js';
import { pathFor } from './environment.js';

/**
 * Windsurf: `~/.codeium/windsurf/mcp_config.json`, `mcpServers` → `{ serverUrl, headers }`
 * (`url` reportedly does not connect). No project-level file.
 */
export const windsurf: ClientDefinition = {
  id: 'windsurf',
  label: 'Windsurf',
  format: 'json',
  slot: mcpServersSlot,
  delivery: 'file',
  scopes: ['user'],
  installEvidence(environment) {
    const p = pathFor(environment.platform);
    return { paths: [p.join(environment.homeDir, '.codeium', 'windsurf')], commands: ['windsurf'] };
  },
  ownedInputIds: [],
  configPath(_scope, options) {
    const p = pathFor(options.environment.platform);
    return p.join(options.environment.homeDir, '.codeium', 'windsurf', 'mcp_config.json');
  },
  desiredConfig(target) {
    return {
      entry: { serverUrl: targetUrl(target), headers: authHeaders(target) },
      inputs: [],
      holdsSecret: true,
      notes: ["Press refresh in Windsurf's MCP panel to pick up pm-server."],
    };
  },
};
