import type { ClientDefinition } from './client-definition.js';
import { authHeaders, serverEntryName, targetUrl } from './client-definition.js';
import type { ClientEnvironment } from './environment.js';
import { pathFor } from './environment.js';

/** Goose's config folder: `%APPDATA%\Block\goose\config`, else `$XDG_CONFIG_HOME/goose` or `~/.config/goose`. */
function gooseConfigDir({ homeDir, platform, env }: ClientEnvironment): string {
  const p = pathFor(platform);
  if (platform === 'win32') {
    const appData = env.APPDATA?.trim() ? env.APPDATA : p.join(homeDir, 'AppData', 'Roaming');
    return p.join(appData, 'Block', 'goose', 'config');
  }
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && xdg.trim() !== '' && p.isAbsolute(xdg) ? xdg : p.join(homeDir, '.config');
  return p.join(base, 'goose');
}

/**
 * Goose: `config.yaml` in its config folder, `extensions` → `pm-server: { enabled, type:
 * streamable_http, name, description, uri, headers, envs, env_keys, timeout }`.
 */
export const goose: ClientDefinition = {
  id: 'goose',
  label: 'Goose',
  format: 'yaml',
  slot: { section: ['extensions'], kind: 'map' },
  delivery: 'file',
  scopes: ['user'],
  ownedInputIds: [],
  installEvidence(environment) {
    return { paths: [gooseConfigDir(environment)], commands: ['goose'] };
  },
  configPath(_scope, options) {
    return pathFor(options.environment.platform).join(
      gooseConfigDir(options.environment),
      'config.yaml',
    );
  },
  desiredConfig(target) {
    return {
      entry: {
        enabled: true,
        type: 'streamable_http',
        name: serverEntryName,
        description: 'PM MCP: Jira and OpenProject',
        uri: targetUrl(target),
        headers: authHeaders(target),
        envs: {},
        env_keys: [],
        timeout: 300,
      },
      inputs: [],
      holdsSecret: true,
      notes: ['Goose loads extensions when a session starts: start a new session.'],
    };
  },
};
