/**
 * The PM tools of SPEC §3.7, for one MCP session. Stable entry point:
 *
 *   registerPmTools(server: McpServer, context: ToolContext): void
 *
 * Registers list_providers, list_projects, search_issues, list_my_issues, get_issue, find_users and
 * list_versions always, and create_issue, update_issue, transition_issue, add_comment, log_work and
 * link_issues only when `context.scope` is 'write' (a read-scope key does not see them in
 * tools/list; the handlers refuse them as well). `context.enabledTools` (the operator's
 * PM_MCP_TOOLS) leaves the others out entirely; `context.allowedTools` and `context.projects` are
 * the credential's policy (`./policy-gate.ts`). Every tool declares an `outputSchema`
 * (`./output-schemas.ts`) that its `structuredContent` matches, errors included.
 *
 * The server builds a `ToolContext` per session over the caller's own connections (see
 * `./context.ts`): `connections.get(id)` must return undefined for anyone else's connection, and
 * each `ToolConnection.client()` returns `createProviderClient(...)` from `server/providers`.
 * Credentials are never tool arguments and never appear in results.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import type { ToolContext } from './context.js';
import { policyRegistrar } from './policy-gate.js';
import { registerReadTools } from './read-tools.js';
import { registerWriteTools } from './write-tools.js';

export type { ToolConnection, ToolContext } from './context.js';
export { allToolNames, readToolNames, writeToolNames } from './names.js';

export function registerPmTools(server: McpServer, context: ToolContext): void {
  // The operator's PM_MCP_TOOLS and the credential's allow-list apply at registration.
  const { registrar, finish } = policyRegistrar(server, context);
  registerReadTools(registrar, context);
  if (context.scope === 'write') registerWriteTools(registrar, context);
  finish();
}
