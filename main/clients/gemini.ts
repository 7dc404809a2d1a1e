import type { ClientDefinition } from './client-definition.js';
import {
  authHeaders,
  envVariableNote,
  mcpServersSlot,
  secretEnvNames,
  targetUrl,
} from './client-definition.js';
import { pathFor, requireProjectDir } from './environment.js';

/**
 * Gemini CLI and its fork Qwen Code share one format: `settings.json` (JSON with comments) in
 * `~/.<dir>` or `<project>/.<dir>`, `mcpServers` → `{ httpUrl, headers }` (`httpUrl` is
 * Streamable HTTP; `url` would mean SSE). String values may name environment variables as
 * `${NAME}`, which the project form uses instead of the secret.
 */
function geminiLike(
  id: 'gemini-cli' | 'qwen-code',
  label: string,
  folder: string,
  command: string,
): ClientDefinition {
  return {
    id,
    label,
    format: 'json',
    slot: mcpServersSlot,
    delivery: 'file',
    scopes: ['user', 'project'],
    ownedInputIds: [],
    installEvidence(environment) {
      const p = pathFor(environment.platform);
      return { paths: [p.join(environment.homeDir, folder)], commands: [command] };
    },
    configPath(scope, options) {
      const p = pathFor(options.environment.platform);
      const base = scope === 'user' ? options.environment.homeDir : requireProjectDir(options);
      return p.join(base, folder, 'settings.json');
    },
    desiredConfig(target, scope) {
      const restartNote = `${label} reads its settings when it starts: start it again (/mcp lists pm-server).`;
      if (scope === 'user') {
        return {
          entry: { httpUrl: targetUrl(target), headers: authHeaders(target) },
          inputs: [],
          holdsSecret: true,
          notes: [restartNote],
        };
      }
      return {
        entry: {
          httpUrl: targetUrl(target),
          headers: authHeaders(target, (secret) => `\${${secretEnvNames[secret]}}`),
        },
        inputs: [],
        holdsSecret: false,
        notes: [envVariableNote(label, target), restartNote],
      };
    },
  };
}

/** Gemini CLI: `~/.gemini/settings.json` or `<project>/.gemini/settings.json`. */
export const geminiCli = geminiLike('gemini-cli', 'Gemini CLI', '.gemini', 'gemini');

/** Qwen Code (a Gemini CLI fork): `~/.qwen/settings.json` or `<project>/.qwen/settings.json`. */
export const qwenCode = geminiLike('qwen-code', 'Qwen Code', '.qwen', 'qwen');
