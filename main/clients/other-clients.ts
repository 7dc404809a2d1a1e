import type { ClientDefinition } from './client-definition.js';
import { authHeaders, bridgeEntry, mcpServersSlot, targetUrl } from './client-definition.js';
import { appDataDir, pathFor, requireProjectDir } from './environment.js';

/**
 * JetBrains AI Assistant keeps its MCP servers in the IDE's own settings (Settings | Tools | AI
 * Assistant | Model Context Protocol), which have no documented file we could edit. Configure
 * gives the JSON to paste there ("Add" → "As JSON"): our stdio bridge, which holds no secret, so
 * the clipboard and terminal never see one.
 */
export const jetbrains: ClientDefinition = {
  id: 'jetbrains',
  label: 'JetBrains AI Assistant',
  format: 'json',
  slot: mcpServersSlot,
  delivery: 'paste',
  scopes: ['user'],
  ownedInputIds: [],
  installEvidence(environment) {
    const p = pathFor(environment.platform);
    return { paths: [p.join(appDataDir(environment), 'JetBrains')], commands: [] };
  },
  configPath() {
    return 'JetBrains AI Assistant settings (Settings | Tools | AI Assistant | Model Context Protocol)';
  },
  desiredConfig(target, _scope, environment) {
    const { entry, notes } = bridgeEntry(target, 'JetBrains AI Assistant', environment);
    return {
      entry,
      inputs: [],
      holdsSecret: false,
      notes: [
        'JetBrains AI Assistant keeps MCP servers in its own settings, which PM MCP cannot edit: ' +
          'open Settings | Tools | AI Assistant | Model Context Protocol (MCP), choose Add, then ' +
          '"As JSON", and paste the JSON below.',
        ...notes,
      ],
    };
  },
};

/**
 * LM Studio: `~/.lmstudio/mcp.json` (`%USERPROFILE%\.lmstudio\mcp.json`), Cursor's notation:
 * `mcpServers` → `{ url, headers }`.
 */
export const lmStudio: ClientDefinition = {
  id: 'lm-studio',
  label: 'LM Studio',
  format: 'json',
  slot: mcpServersSlot,
  delivery: 'file',
  scopes: ['user'],
  ownedInputIds: [],
  installEvidence(environment) {
    const p = pathFor(environment.platform);
    return { paths: [p.join(environment.homeDir, '.lmstudio')], commands: ['lms'] };
  },
  configPath(_scope, options) {
    const p = pathFor(options.environment.platform);
    return p.join(options.environment.homeDir, '.lmstudio', 'mcp.json');
  },
  desiredConfig(target) {
    return {
      entry: { url: targetUrl(target), headers: authHeaders(target) },
      inputs: [],
      holdsSecret: true,
      notes: ['LM Studio reloads mcp.json when it changes; pm-server appears in the Program tab.'],
    };
  },
};

/**
 * Amazon Q Developer CLI: `~/.aws/amazonq/mcp.json` or `<project>/.amazonq/mcp.json`,
 * `mcpServers`. Its remote servers are documented with OAuth or no authentication only (no
 * headers), so the entry runs our stdio bridge (`{ command, args }`), which holds no secret.
 */
export const amazonQ: ClientDefinition = {
  id: 'amazon-q',
  label: 'Amazon Q Developer CLI',
  format: 'json',
  slot: mcpServersSlot,
  delivery: 'file',
  scopes: ['user', 'project'],
  ownedInputIds: [],
  installEvidence(environment) {
    const p = pathFor(environment.platform);
    return { paths: [p.join(environment.homeDir, '.aws', 'amazonq')], commands: ['q', 'qchat'] };
  },
  configPath(scope, options) {
    const p = pathFor(options.environment.platform);
    return scope === 'user'
      ? p.join(options.environment.homeDir, '.aws', 'amazonq', 'mcp.json')
      : p.join(requireProjectDir(options), '.amazonq', 'mcp.json');
  },
  desiredConfig(target, _scope, environment) {
    const { entry, notes } = bridgeEntry(target, 'Amazon Q', environment);
    return {
      entry,
      inputs: [],
      holdsSecret: false,
      notes: ['Amazon Q loads MCP servers when a chat starts: start `q chat` again.', ...notes],
    };
  },
};
