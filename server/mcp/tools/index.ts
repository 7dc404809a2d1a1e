/**
 * The PM tools of SPEC §3.7, for one MCP session. Stable entry point:
 *
 *   registerPmTools(server: McpServer, context: ToolContext): void
 *
 * Registers list_providers, list_projects, search_issues, list_my_issues, get_issue, find_users and
 * list_versions always, and create_issue, update_issue, transition_issue, add_comment, log_work and
 * link_issues only when `context.scope` is 'write' (a read-scope key does not see them in
 * tools/list; the handlers refuse them as well). Every tool declares an `outputSchema`
 * (`./output-schemas.ts`) that its `structuredContent` matches, errors included.
 *
 * The server builds a `ToolContext` per session over the caller's own connections (see
 * `./context.ts`): `connections.get(id)` must return undefined for anyone else's connection, and
 * each `ToolConnection.client()` returns `createProviderClient(...)` from `server/providers`.
 * Credentials are never tool arguments and never appear in results.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import type { ToolContext } from './context.js';
import { registerReadTools } from './read-tools.js';
import { registerWriteTools } from './write-tools.js';

export type { ToolConnection, ToolContext } from './context.js';
export { writeToolNames } from './write-tools.js';

export const readToolNames = [
  'list_providers',
  'list_projects',
  'search_issues',
  'list_my_issues',
  'get_issue',
  'find_users',
  'list_versions',
] as const;

export function registerPmTools(server: McpServer, context: ToolContext): void {
  registerReadTools(server, context);
  if (context.scope === 'write') registerWriteTools(server, context);
}
