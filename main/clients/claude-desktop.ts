import { DesktopError } from '../errors.js';
import type { ClientDefinition } from './client-definition.js';
import { appDataDir, pathFor } from './environment.js';
import { anyPathExists } from './install-detection.js';

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
  topKey: 'mcpServers',
  scopes: ['user'],
  ownedInputIds: [],
  configPath(_scope, options) {
    const p = pathFor(options.environment.platform);
    return p.join(appDataDir(options.environment), 'Claude', 'claude_desktop_config.json');
  },
  detectInstalled(environment) {
    return anyPathExists([pathFor(environment.platform).join(appDataDir(environment), 'Claude')]);
  },
  desiredConfig(target, _scope, environment) {
    const { bridgeCommand, bridgeArgs = [] } = target;
    if (bridgeCommand === undefined) {
      throw new DesktopError(
        'usage',
        'Claude Desktop connects only through a local command: the bridge command is missing.',
      );
    }
    const notes = ['Quit Claude Desktop completely (not just its window) and start it again.'];
    if (!pathFor(environment.platform).isAbsolute(bridgeCommand)) {
      notes.push(
        `"${bridgeCommand}" is not an absolute path; Claude Desktop does not see your shell's ` +
          'PATH and may fail to start it.',
      );
    }
    return {
      entry: { command: bridgeCommand, args: [...bridgeArgs] },
      inputs: [],
      holdsSecret: false,
      notes,
    };
  },
};
