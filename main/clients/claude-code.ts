import type { ClientDefinition } from './client-definition.js';
import {
  authHeaders,
  mcpServersSlot,
  envVariableNote,
  secretEnvNames,
  targetUrl,
} from './client-definition.js';
import { pathFor, requireProjectDir } from './environment.js';

/**
 * Claude Code: user scope `~/.claude.json` (top-level `mcpServers`), project `<project>/.mcp.json`;
 * entry `{ type: "http", url, headers }`. The project file refers to the secret as `${NAME}`,
 * which Claude Code expands from its environment.
 */
export const claudeCode: ClientDefinition = {
  id: 'claude-code',
  label: 'Claude Code',
  format: 'json',
  slot: mcpServersSlot,
  delivery: 'file',
  scopes: ['user', 'project'],
  installEvidence(environment) {
    const p = pathFor(environment.platform);
    return {
      paths: [p.join(environment.homeDir, '.claude.json'), p.join(environment.homeDir, '.claude')],
      commands: ['claude'],
    };
  },
  ownedInputIds: [],
  configPath(scope, options) {
    const p = pathFor(options.environment.platform);
    return scope === 'user'
      ? p.join(options.environment.homeDir, '.claude.json')
      : p.join(requireProjectDir(options), '.mcp.json');
  },
  desiredConfig(target, scope) {
    const sessionNote = 'Claude Code reads this when a session starts: start a new session.';
    if (scope === 'user') {
      return {
        entry: { type: 'http', url: targetUrl(target), headers: authHeaders(target) },
        inputs: [],
        holdsSecret: true,
        notes: [
          sessionNote,
          'Claude Code rewrites ~/.claude.json while it runs; if saving is refused because the ' +
            'file changed meanwhile, quit Claude Code and try again.',
        ],
      };
    }
    return {
      entry: {
        type: 'http',
        url: targetUrl(target),
        headers: authHeaders(target, (secret) => `\${${secretEnvNames[secret]}}`),
      },
      inputs: [],
      holdsSecret: false,
      notes: [envVariableNote('Claude Code', target), sessionNote],
    };
  },
};
