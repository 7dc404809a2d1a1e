import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { KeyScope } from '../keys/keys.js';
import type { UserConnection } from '../connections/connections.js';

export interface ServerToolContext {
  scope: KeyScope;
  connections: {
    listAll(): Promise<UserConnection[]>;
  };
  perProviderTimeoutMs?: number;
}

/** Registers the PM tools this caller may use on a session's server. */
export function registerServerTools(server: McpServer, context: ServerToolContext): void {
  server.registerTool(
    'list_providers',
    {
      title: 'List my PM connections',
      description:
        "Lists the caller's own Jira and OpenProject connections, their type and last check.",
      annotations: { readOnlyHint: true },
    },
    async () => {
      const connections = await context.connections.listAll();
      const providers = connections.map(({ settings: _settings, ...connection }) => connection);
      const text =
        providers.length === 0
          ? 'No provider connections yet. Add one in the PM MCP app (Providers), with `pm-mcp providers add`, or POST /api/users/me/providers.'
          : providers
              .map(
                (p) =>
                  `${p.name} (${p.provider_type}) ${p.base_url} — ${p.is_active ? 'active' : 'inactive'}`,
              )
              .join('\n');
      return { content: [{ type: 'text', text }], structuredContent: { providers } };
    },
  );
}
