import type { ClientDefinition } from './client-definition.js';
import { bridgeEntry, serverEntryName } from './client-definition.js';
import { pathFor, requireProjectDir } from './environment.js';

/**
 * Continue: user level `~/.continue/config.yaml` (`%USERPROFILE%\.continue` on Windows), whose
 * `mcpServers` is a list of items named by `name`; project level a block file of our own,
 * `<project>/.continue/mcpServers/pm-server.yaml` (the folder Continue's documentation recommends
 * for MCP servers). Continue's support for headers on remote servers is reported not to work, so
 * the entry runs our stdio bridge (`{ name, command, args }`), which holds no secret — safe in a
 * project file too.
 */
export const continueDev: ClientDefinition = {
  id: 'continue',
  label: 'Continue',
  format: 'yaml',
  slot: { section: ['mcpServers'], kind: 'named-list' },
  delivery: 'file',
  scopes: ['user', 'project'],
  ownedInputIds: [],
  newFileHeader(scope) {
    return scope === 'user'
      ? { name: 'Local Config', version: '1.0.0', schema: 'v1' }
      : { name: 'PM MCP', version: '1.0.0', schema: 'v1' };
  },
  ownsFile(scope) {
    return scope === 'project';
  },
  installEvidence(environment) {
    const p = pathFor(environment.platform);
    return { paths: [p.join(environment.homeDir, '.continue')], commands: [] };
  },
  configPath(scope, options) {
    const p = pathFor(options.environment.platform);
    return scope === 'user'
      ? p.join(options.environment.homeDir, '.continue', 'config.yaml')
      : p.join(requireProjectDir(options), '.continue', 'mcpServers', `${serverEntryName}.yaml`);
  },
  desiredConfig(target, _scope, environment) {
    const { entry, notes } = bridgeEntry(target, 'Continue', environment);
    return {
      entry: { name: serverEntryName, ...entry },
      inputs: [],
      holdsSecret: false,
      notes: [
        'Continue reloads its configuration by itself; pm-server runs in agent mode.',
        ...notes,
      ],
    };
  },
};
