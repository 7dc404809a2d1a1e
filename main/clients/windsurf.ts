import type { ClientDefinition } from './client-definition.js';
import { authHeaders, targetUrl } from './client-definition.js';
import { appDataDir, pathFor } from './environment.js';
import { anyPathExists } from './install-detection.js';

/**
 * Windsurf: `~/.codeium/windsurf/mcp_config.json`, `mcpServers` → `{ serverUrl, headers }`
 * (`url` reportedly does not connect). No project-level file.
 */
export const windsurf: ClientDefinition = {
  id: 'windsurf',
  label: 'Windsurf',
  topKey: 'mcpServers',
  scopes: ['user'],
  ownedInputIds: [],
  configPath(_scope, options) {
    const p = pathFor(options.environment.platform);
    return p.join(options.environment.homeDir, '.codeium', 'windsurf', 'mcp_config.json');
  },
  detectInstalled(environment) {
    const p = pathFor(environment.platform);
    return anyPathExists([
      p.join(environment.homeDir, '.codeium', 'windsurf'),
      p.join(appDataDir(environment), 'Windsurf'),
    ]);
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
