import type { McpServer } from '@modelcontextprotocol/server';
import type { ConnectionService, UserConnection } from '../connections/connections.js';
import type { KeyScope } from '../keys/keys.js';
import { ProviderClientCache } from '../connections/provider-clients.js';
import { ProjectScope, type KeyPolicy } from '../keys/policy.js';
import type { ProviderHttpOptions } from '../providers/index.js';
import { convertToolSchemasOnce } from './schema-conversions.js';
import { registerPmTools, type ToolConnection } from './tools/index.js';

export interface ServerToolOptions {
  userId: string;
  scope: KeyScope;
  /** The credential's tool and project limits (none for sessions). */
  policy?: KeyPolicy | undefined;
  /** `PM_MCP_TOOLS`: the tools this server offers at all (null: every tool). */
  enabledTools?: readonly string[] | null;
  /** `PM_MCP_READ_ONLY`: no write tool for anyone. */
  readOnly?: boolean;
  connections: ConnectionService;
  providerHttp?: ProviderHttpOptions | undefined;
  /** Clients kept between calls (built with `providerHttp`); without it one is built per call. */
  providerClients?: ProviderClientCache | undefined;
  perProviderTimeoutMs?: number | undefined;
  /** A tool failed in a way no provider explains (a bug): logged, never shown to the model. */
  onUnexpectedError?: (error: unknown, tool: string) => void;
  /** A call reached its deadline (a provider hangs or is too slow): logged for the operator. */
  onDeadline?: (tool: string, elapsedMs: number, timerLateMs: number) => void;
}

/**
 * Registers the PM tools on a session's server over the calling user's own connections. Every
 * call reads the connections afresh, so a connection removed or deactivated mid-session is gone
 * from the next call.
 */
export function registerServerTools(server: McpServer, options: ServerToolOptions): void {
  const { userId, connections } = options;
  const providerClients =
    options.providerClients ?? new ProviderClientCache({ httpOptions: options.providerHttp });
  const toTool = (connection: UserConnection): ToolConnection => ({
    id: connection.id,
    providerType: connection.provider_type,
    name: connection.name,
    baseUrl: connection.base_url,
    isActive: connection.is_active,
    lastCheckedAt: connection.last_checked_at,
    lastCheckOk: connection.last_check_ok,
    lastCheckMessage: connection.last_check_message,
    client: () => providerClients.clientFor(userId, connection),
  });
  convertToolSchemasOnce(server);
  const projects = options.policy?.projects;
  registerPmTools(server, {
    scope: options.readOnly ? 'read' : options.scope,
    enabledTools: options.enabledTools ?? null,
    allowedTools: options.policy?.tools ?? null,
    projects: projects ? new ProjectScope(projects) : null,
    ...(options.onUnexpectedError ? { onUnexpectedError: options.onUnexpectedError } : {}),
    ...(options.onDeadline ? { onDeadline: options.onDeadline } : {}),
    ...(options.perProviderTimeoutMs ? { perProviderTimeoutMs: options.perProviderTimeoutMs } : {}),
    connections: {
      listAll: async () => (await connections.forUserConnections(userId)).map(toTool),
      listActive: async () =>
        (await connections.forUserConnections(userId)).filter((item) => item.is_active).map(toTool),
      get: async (id) => {
        const connection = await connections.forUserConnection(userId, id);
        return connection ? toTool(connection) : undefined;
      },
    },
  });
}
