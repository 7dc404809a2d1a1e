import type { ClientDefinition } from './client-definition.js';
import { authHeaders, targetUrl } from './client-definition.js';
import type { ClientEnvironment } from './environment.js';
import { pathFor } from './environment.js';

/** Zed's settings folder: `%APPDATA%\Zed` on Windows, else `$XDG_CONFIG_HOME/zed` or `~/.config/zed` (macOS too). */
function zedConfigDir({ homeDir, platform, env }: ClientEnvironment): string {
  const p = pathFor(platform);
  if (platform === 'win32') {
    const appData = env.APPDATA?.trim() ? env.APPDATA : p.join(homeDir, 'AppData', 'Roaming');
    return p.join(appData, 'Zed');
  }
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && xdg.trim() !== '' && p.isAbsolute(xdg) ? xdg : p.join(homeDir, '.config');
  return p.join(base, 'zed');
}

/**
 * Zed: `settings.json` (JSON with comments) in its settings folder, `context_servers` →
 * `{ url, headers }` for a remote server. User level only: a project's `.zed/settings.json` is
 * shared with the team and Zed has no way there to read a secret from elsewhere.
 */
export const zed: ClientDefinition = {
  id: 'zed',
  label: 'Zed',
  format: 'json',
  slot: { section: ['context_servers'], kind: 'map' },
  delivery: 'file',
  scopes: ['user'],
  ownedInputIds: [],
  installEvidence(environment) {
    return { paths: [zedConfigDir(environment)], commands: ['zed', 'zeditor'] };
  },
  configPath(_scope, options) {
    return pathFor(options.environment.platform).join(
      zedConfigDir(options.environment),
      'settings.json',
    );
  },
  desiredConfig(target) {
    return {
      entry: { url: targetUrl(target), headers: authHeaders(target) },
      inputs: [],
      holdsSecret: true,
      notes: [
        "Zed applies settings changes by itself; pm-server appears in the Agent panel's settings.",
      ],
    };
  },
};
