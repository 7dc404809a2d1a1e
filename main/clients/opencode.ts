import type { ClientDefinition } from './client-definition.js';
import { authHeaders, envVariableNote, secretEnvNames, targetUrl } from './client-definition.js';
import type { ClientEnvironment } from './environment.js';
import { pathFor, requireProjectDir } from './environment.js';

/** `$XDG_CONFIG_HOME/opencode` or `~/.config/opencode` — opencode uses this on every OS. */
function opencodeConfigDir({ homeDir, platform, env }: ClientEnvironment): string {
  const p = pathFor(platform);
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && xdg.trim() !== '' && p.isAbsolute(xdg) ? xdg : p.join(homeDir, '.config');
  return p.join(base, 'opencode');
}

/**
 * opencode: `opencode.json` (JSON with comments) in its config folder or at the project's root;
 * `mcp` → `pm-server: { type: "remote", url, headers, enabled: true }`. The project form names
 * the secret as `{env:NAME}`, which opencode substitutes when it reads the file.
 */
export const opencode: ClientDefinition = {
  id: 'opencode',
  label: 'opencode',
  format: 'json',
  slot: { section: ['mcp'], kind: 'map' },
  delivery: 'file',
  scopes: ['user', 'project'],
  ownedInputIds: [],
  installEvidence(environment) {
    return { paths: [opencodeConfigDir(environment)], commands: ['opencode'] };
  },
  configPath(scope, options) {
    const p = pathFor(options.environment.platform);
    return scope === 'user'
      ? p.join(opencodeConfigDir(options.environment), 'opencode.json')
      : p.join(requireProjectDir(options), 'opencode.json');
  },
  desiredConfig(target, scope) {
    const restartNote = 'opencode reads its configuration when it starts: start it again.';
    const userScope = scope === 'user';
    return {
      entry: {
        type: 'remote',
        url: targetUrl(target),
        headers: userScope
          ? authHeaders(target)
          : authHeaders(target, (secret) => `{env:${secretEnvNames[secret]}}`),
        enabled: true,
      },
      inputs: [],
      holdsSecret: userScope,
      notes: userScope ? [restartNote] : [envVariableNote('opencode', target), restartNote],
    };
  },
};
