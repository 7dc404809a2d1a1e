import {
  clientIds,
  type ClientId,
  type ClientListing,
  type ClientStatus,
} from '../../preload/contract.js';
import {
  configureClient,
  inspectClient,
  installLinkFor,
  isClientInstalled,
  proxyMcpUrl,
  serverMcpUrl,
  toClientStatus,
  unconfigureClient,
  type ClientEnvironment,
  type ClientTarget,
} from '../clients/index.js';
import { DesktopError, isDesktopError } from '../errors.js';
import { secretNames, type SecretStore } from '../keychain/secret-store.js';
import type { ConfiguredClient, SettingsFile } from '../state/settings.js';
import type { BridgeCommand } from './bridge-command.js';
import { isSignedIn, type CoreMemory, type CoreSettings } from './core-memory.js';
import { clientIdSchema, parseInput } from './input-validation.js';
import type { LocalTokenKeeper } from './local-token.js';

export interface ConfigureClientOptions {
  /** Write the server URL and the MCP key itself instead of the loopback proxy (`--direct`). */
  direct?: boolean;
  /** Absolute project folder: write the project-level file. */
  projectDir?: string;
}

export interface ClientChange extends ClientStatus {
  /** What the user should know or do next. */
  notes: string[];
  changed: boolean;
  backupPath: string | null;
  /** Display prefixes of MCP keys this change took out of the client's files: offer to revoke them. */
  exposedKeyPrefixes: string[];
  /** A client PM MCP cannot write (JetBrains): the JSON to paste (holds no secret). */
  copyText?: string;
}

/**
 * The editors' files, as the core sees them: what our entry should be (proxy or direct target),
 * writing and removing it, remembering which clients the user configured (only those count for
 * drift), and rewriting them when the port or the local token changes.
 */
export interface ClientConfiguration {
  /**
   * Every client's user-level status (installed ones first), plus the project files configured;
   * and the configured ones.
   */
  statuses(s: SettingsFile): Promise<{ all: ClientListing[]; configured: ClientStatus[] }>;
  change(
    action: 'configure' | 'unconfigure',
    client: ClientId,
    options: ConfigureClientOptions,
  ): Promise<ClientChange>;
  /**
   * Writes every client configured in proxy mode again (after a port or local token change).
   * `keepGoing`: a client that cannot be written does not stop the others (and is left out).
   */
  reconfigureProxyClients(s: SettingsFile, keepGoing: boolean): Promise<ClientChange[]>;
  /** Drops a client's user-level record (its file was put back by other means). */
  forgetConfigured(client: ClientId): Promise<void>;
}

function sameClient(a: ConfiguredClient, client: ClientId, project: string | null): boolean {
  return a.client === client && a.project === project;
}

export function createClientConfiguration(options: {
  memory: CoreMemory;
  settings: CoreSettings;
  secrets: SecretStore;
  localToken: LocalTokenKeeper;
  environment: ClientEnvironment;
  bridge: BridgeCommand;
  /** Something changed that the state shows. */
  changed: () => void;
}): ClientConfiguration {
  const { memory, settings, secrets, localToken, environment, bridge } = options;

  async function targetFor(mode: 'proxy' | 'direct', s: SettingsFile): Promise<ClientTarget> {
    const bridgeFields = {
      bridgeCommand: bridge.command,
      bridgeArgs: mode === 'direct' ? [...bridge.args, '--direct'] : [...bridge.args],
    };
    if (mode === 'proxy') {
      return {
        mode: 'proxy',
        proxyUrl: proxyMcpUrl(s.proxyPort),
        localToken: await localToken.ensure(),
        ...bridgeFields,
      };
    }
    if (!isSignedIn(s)) {
      throw new DesktopError(
        'not_signed_in',
        'Direct mode writes your MCP key into the client file: sign in first (pm-mcp login)',
      );
    }
    const apiKey = memory.mcpKey ?? (await secrets.get(secretNames.mcpKey(s.serverUrl)));
    if (apiKey === undefined) {
      throw new DesktopError(
        'key_rejected',
        "This machine's MCP key is missing from the keychain: sign in again",
      );
    }
    return { mode: 'direct', serverUrl: serverMcpUrl(s.serverUrl), apiKey, ...bridgeFields };
  }

  async function statuses(
    s: SettingsFile,
  ): Promise<{ all: ClientListing[]; configured: ClientStatus[] }> {
    const userFiles: ClientListing[] = [];
    const projectFiles: ClientListing[] = [];
    const configured: ClientStatus[] = [];
    const linkTarget = await targetFor('proxy', s);
    const listing = async (status: ClientStatus): Promise<ClientListing> => ({
      ...status,
      installed: await isClientInstalled(status.client, environment),
      installLink: installLinkFor(status.client, linkTarget),
    });
    const userLevel = new Map(
      s.configuredClients.filter((c) => c.project === null).map((c) => [c.client, c]),
    );
    const inspect = async (
      client: ClientId,
      mode: 'proxy' | 'direct',
      projectDir?: string,
    ): Promise<ClientStatus> => {
      const target = await targetFor(mode, s).catch(() => targetFor('proxy', s));
      const clientOptions = {
        environment,
        ...(projectDir !== undefined ? { projectDir } : {}),
      };
      try {
        return toClientStatus(await inspectClient(client, target, clientOptions));
      } catch (error) {
        if (isDesktopError(error) && error.code === 'keychain_unavailable') throw error;
        // One client that cannot be inspected must not hide the others (or the whole state).
        return {
          client,
          label: client,
          path: projectDir ?? '',
          state: 'unparseable',
          detail: error instanceof Error ? error.message : String(error),
        };
      }
    };
    for (const client of clientIds) {
      const record = userLevel.get(client);
      const status = await inspect(client, record?.mode ?? 'proxy');
      userFiles.push(await listing(status));
      if (record) configured.push(status);
    }
    for (const record of s.configuredClients.filter((c) => c.project !== null)) {
      const status = await inspect(record.client, record.mode, record.project ?? undefined);
      projectFiles.push(await listing(status));
      configured.push(status);
    }
    // Installed first; otherwise the registry's order (sort is stable).
    userFiles.sort((a, b) => Number(b.installed) - Number(a.installed));
    return { all: [...userFiles, ...projectFiles], configured };
  }

  async function recordClient(
    client: ClientId,
    project: string | null,
    mode: 'proxy' | 'direct' | null,
  ): Promise<void> {
    await settings.update((current) => {
      const others = current.configuredClients.filter((c) => !sameClient(c, client, project));
      return {
        ...current,
        configuredClients: mode === null ? others : [...others, { client, project, mode }],
      };
    });
  }

  async function change(
    action: 'configure' | 'unconfigure',
    rawClient: ClientId,
    clientOptions: ConfigureClientOptions,
  ): Promise<ClientChange> {
    const client = parseInput(clientIdSchema, rawClient, 'client');
    const projectDir = clientOptions.projectDir;
    const s = await settings.load();
    const where = { environment, ...(projectDir !== undefined ? { projectDir } : {}) };
    const mode = clientOptions.direct === true ? 'direct' : 'proxy';
    const result =
      action === 'configure'
        ? await configureClient(client, await targetFor(mode, s), where)
        : await unconfigureClient(client, where);
    await recordClient(client, projectDir ?? null, action === 'configure' ? mode : null);
    options.changed();
    return {
      ...toClientStatus(result),
      notes: result.notes,
      changed: result.changed,
      backupPath: result.backupPath,
      exposedKeyPrefixes: result.exposedKeyPrefixes,
      ...(result.copyText !== undefined ? { copyText: result.copyText } : {}),
    };
  }

  return {
    statuses,
    change,
    async reconfigureProxyClients(s, keepGoing) {
      const changes: ClientChange[] = [];
      for (const record of s.configuredClients.filter((c) => c.mode === 'proxy')) {
        const rewrite = change(
          'configure',
          record.client,
          record.project !== null ? { projectDir: record.project } : {},
        );
        if (!keepGoing) {
          changes.push(await rewrite);
          continue;
        }
        const done = await rewrite.catch(() => undefined);
        if (done) changes.push(done);
      }
      return changes;
    },
    forgetConfigured: (client) => recordClient(client, null, null),
  };
}
