import type { ClientDefinition } from './client-definition.js';
import { bridgeEntry, mcpServersSlot } from './client-definition.js';
import { appDataDir, pathFor } from './environment.js';

/**
 * Claude Desktop: `claude_desktop_config.json` in `~/Library/Application Support/Claude`
 * (macOS) or `%APPDATA%\Claude` (Windows); on Linux, where only unofficial builds exist, the same
 * name under `$XDG_CONFIG_HOME/Claude` (`~/.config/Claude`). stdio only: the entry runs our bridge
 * (`{ command, args }`), which reads its secret from the keychain, so the file holds none and the
 * entry is the same in proxy and direct mode (the caller picks the bridge's arguments).
 */
export const claudeDesktop: ClientDefinition = {
  id: 'claude-desktop',
  label: 'Claude Desktop',
  format: 'json',
  slot: mcpServersSlot,
  delivery: 'file',
  scopes: ['user'],
  ownedInputIds: [],
  installEvidence(environment) {
    const p = pathFor(environment.platform);
    return { paths: [p.join(appDataDir(environment), 'Claude')], commands: [] };
  },
  configPath(_scope, options) {
    const p = pathFor(options.environment.platform);
    return p.join(appDataDir(options.environment), 'Claude', 'claude_desktop_config.json');
  },
  desiredConfig(target, _scope, environment) {
    const { entry, notes } = bridgeEntry(target, 'Claude Desktop', environment);
    return {
      entry,
      inputs: [],
      holdsSecret: false,
      notes: ['Quit Claude Desktop completely (not just its window) and start it again.', ...notes],
    };
  },
};
