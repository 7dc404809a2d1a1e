import type { ClientDefinition } from './client-definition.js';
import { authHeaders, secretEnvNames, secretWords, targetUrl } from './client-definition.js';
import type { ClientEnvironment } from './environment.js';
import { pathFor, requireProjectDir } from './environment.js';
import type { JsonObject } from './jsonc-edit.js';

/**
 * OpenAI Codex CLI: `$CODEX_HOME/config.toml` (default `~/.codex/config.toml`) or, in a project
 * Codex trusts, `<project>/.codex/config.toml`; table `[mcp_servers.pm-server]` with `url`
 * (Streamable HTTP). Literal headers go in `http_headers`; the project form names environment
 * variables instead: `bearer_token_env_var` (sent as `Authorization: Bearer <value>`) for the
 * local token, `env_http_headers` (header → variable name) for the MCP key.
 */
export const codex: ClientDefinition = {
  id: 'codex',
  label: 'Codex CLI',
  format: 'toml',
  slot: { section: ['mcp_servers'], kind: 'map' },
  delivery: 'file',
  scopes: ['user', 'project'],
  ownedInputIds: [],
  installEvidence(environment) {
    return { paths: [codexHome(environment)], commands: ['codex'] };
  },
  configPath(scope, options) {
    const p = pathFor(options.environment.platform);
    return scope === 'user'
      ? p.join(codexHome(options.environment), 'config.toml')
      : p.join(requireProjectDir(options), '.codex', 'config.toml');
  },
  desiredConfig(target, scope) {
    const restartNote =
      'Codex reads config.toml when it starts: start it again (/mcp lists pm-server).';
    if (scope === 'user') {
      return {
        entry: { url: targetUrl(target), http_headers: authHeaders(target) },
        inputs: [],
        holdsSecret: true,
        notes: [restartNote],
      };
    }
    const entry: JsonObject =
      target.mode === 'proxy'
        ? { url: targetUrl(target), bearer_token_env_var: secretEnvNames.localToken }
        : {
            url: targetUrl(target),
            env_http_headers: { 'X-MCP-API-Key': secretEnvNames.apiKey },
          };
    const name = target.mode === 'proxy' ? secretEnvNames.localToken : secretEnvNames.apiKey;
    return {
      entry,
      inputs: [],
      holdsSecret: false,
      notes: [
        `The project file holds no secret: Codex reads ${secretWords(target)} from the ` +
          `environment variable ${name}, so start Codex from an environment where it is set.`,
        'Codex reads a project-level config.toml only in a project you have marked as trusted.',
        restartNote,
      ],
    };
  },
};

/** `$CODEX_HOME` when set to an absolute path, else `~/.codex`. */
function codexHome(environment: ClientEnvironment): string {
  const p = pathFor(environment.platform);
  const fromEnv = environment.env.CODEX_HOME;
  return fromEnv !== undefined && fromEnv.trim() !== '' && p.isAbsolute(fromEnv)
    ? fromEnv
    : p.join(environment.homeDir, '.codex');
}
