/**
 * The credential's policy, as the tools apply it (SPEC §3.7; the policy itself is
 * `server/keys/policy.ts`):
 *
 * - Tools outside `allowedTools` are registered with a handler that refuses with a tool error
 *   naming the policy, and hidden from `tools/list` (SDK v2 answers a call to an unregistered or
 *   disabled tool with a JSON-RPC error -32602, which says nothing of why).
 * - Projects outside `projects`: connections filtered out of every list, the provider queries
 *   restricted (`projectKeys`), every issue re-checked after, reads and writes elsewhere refused.
 */
import type { CallToolResult, ListToolsResult, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { standardFieldOf, type IssueSummary } from '../../providers/index.js';
import type { ToolConnection, ToolContext } from './context.js';
import { describeFailure } from './failures.js';
import { toolId } from './ids.js';
import { toolError, ToolFailure } from './tool-kit.js';

/** Where the user changes a key's limits, for the refusals. */
const whereToChange =
  "Change the key's limits in the PM MCP app (Keys page), with `pm-mcp keys limit`, or with `PATCH /api/users/me/mcp-keys/<id>`.";

export function toolNotAllowed(tool: string, allowed: readonly string[]): CallToolResult {
  return toolError(
    'tool_not_allowed',
    `The tool "${tool}" is not allowed by this MCP key's policy (allowed_tools: ${allowed.join(', ')}). ${whereToChange}`,
    { policy: 'allowed_tools', allowed_tools: [...allowed] },
  );
}

export function projectNotAllowed(what: string): ToolFailure {
  return new ToolFailure(
    toolError(
      'project_not_allowed',
      `${what} is outside the projects this MCP key's policy allows (allowed_projects). ${whereToChange}`,
      { policy: 'allowed_projects' },
    ),
  );
}

/** The registering half of `McpServer`: the tool modules register through the gate below. */
export type ToolRegistrar = Pick<McpServer, 'registerTool'>;

const anyArguments = z.looseObject({});

type RegisterTool = ToolRegistrar['registerTool'];
type LooseRegister = (name: string, config: object, handler: unknown) => unknown;

/**
 * A registrar that applies the operator's `PM_MCP_TOOLS` (other tools are not registered) and the
 * credential's `allowedTools` (other tools answer with the policy's refusal and are hidden from
 * `tools/list` once `finish()` runs).
 */
export function policyRegistrar(
  server: McpServer,
  context: ToolContext,
): { registrar: ToolRegistrar; finish: () => void } {
  const refused: string[] = [];
  const { enabledTools, allowedTools } = context;
  // The SDK's overloads are typed per schema; this gate only passes them through.
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the method, not the raw-shape overload
  const register = server.registerTool.bind(server) as unknown as LooseRegister;
  const registerTool = ((name: string, config: { title?: string }, handler: unknown) => {
    if (enabledTools && !enabledTools.includes(name)) return undefined;
    if (allowedTools && !allowedTools.includes(name)) {
      refused.push(name);
      return register(
        name,
        {
          ...(config.title ? { title: config.title } : {}),
          description: "Not allowed by this MCP key's policy.",
          inputSchema: anyArguments,
        },
        () => toolNotAllowed(name, allowedTools),
      );
    }
    return register(name, config, handler);
  }) as RegisterTool;
  return {
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the method with all its overloads
    registrar: { registerTool },
    finish: () => {
      if (refused.length > 0) hideFromToolList(server, refused);
    },
  };
}

type ListHandler = (request: unknown, ctx: unknown) => Promise<ListToolsResult>;

/**
 * Wraps the SDK's own `tools/list` handler (so every listed definition stays exactly the SDK's)
 * and leaves these names out. `_getRequestHandler` is the SDK's protected accessor for a stored
 * handler; tests/server/key-policy.test.ts fails if it ever stops working.
 */
function hideFromToolList(server: McpServer, names: readonly string[]): void {
  const protocol = server.server as unknown as {
    _getRequestHandler(method: string): ListHandler | undefined;
  };
  const list = protocol._getRequestHandler('tools/list');
  if (!list) throw new Error('The MCP SDK has no tools/list handler to narrow');
  server.server.removeRequestHandler('tools/list');
  server.server.setRequestHandler('tools/list', async (request, ctx) => {
    const result = await list(request, ctx);
    return { ...result, tools: result.tools.filter((tool) => !names.includes(tool.name)) };
  });
}

/** The connections among these that the policy lets the tools touch. */
export function allowedConnections<C extends Pick<ToolConnection, 'id'>>(
  context: ToolContext,
  connections: readonly C[],
): C[] {
  const scope = context.projects;
  return scope
    ? connections.filter((connection) => scope.allowsConnection(connection.id))
    : [...connections];
}

/** The project keys a query on this connection must be restricted to; undefined: none. */
export function projectRestriction(
  context: ToolContext,
  connection: Pick<ToolConnection, 'id'>,
): readonly string[] | undefined {
  return context.projects?.projectKeysOf(connection.id) ?? undefined;
}

export function assertConnectionAllowed(context: ToolContext, connection: ToolConnection): void {
  if (context.projects && !context.projects.allowsConnection(connection.id)) {
    throw projectNotAllowed(`Connection "${connection.name}" (${connection.id})`);
  }
}

export function assertProjectAllowed(
  context: ToolContext,
  connection: ToolConnection,
  projectKey: string,
): void {
  assertConnectionAllowed(context, connection);
  if (context.projects && !context.projects.allowsProject(connection.id, projectKey)) {
    throw projectNotAllowed(`Project ${toolId(connection.id, projectKey)}`);
  }
}

/** Whether an issue found on this connection may be shown (its project known and allowed). */
export function issueAllowed(
  context: ToolContext,
  connection: Pick<ToolConnection, 'id'>,
  issue: Pick<IssueSummary, 'project'>,
): boolean {
  return context.projects?.allowsProject(connection.id, issue.project?.key) ?? true;
}

/**
 * The fields to ask the provider for: with a project limit on this connection the project must
 * come back even when the caller did not ask for it (it is how each issue is checked).
 */
export function fieldsWithProject(
  context: ToolContext,
  connection: Pick<ToolConnection, 'id'>,
  fields: readonly string[] | undefined,
): readonly string[] | undefined {
  if (fields === undefined || projectRestriction(context, connection) === undefined) return fields;
  return fields.some((field) => standardFieldOf(field) === 'project')
    ? fields
    : [...fields, 'project'];
}

/** Undoes `fieldsWithProject` on a result: the caller sees the fields it asked for. */
export function withoutAddedProject<I extends IssueSummary>(
  issue: I,
  fields: readonly string[] | undefined,
): I {
  if (fields === undefined || fields.some((field) => standardFieldOf(field) === 'project'))
    return issue;
  const selected = issue.selectedFields?.filter((field) => field !== 'project');
  return { ...issue, selectedFields: selected };
}

/**
 * Before a write on an existing issue: with a project limit on its connection, the issue's project
 * is read first and must be allowed (an issue key alone does not say its project for certain:
 * Jira keeps old keys of moved issues working).
 */
export async function assertIssueAllowed(
  context: ToolContext,
  connection: ToolConnection,
  key: string,
  signal?: AbortSignal,
): Promise<void> {
  assertConnectionAllowed(context, connection);
  if (projectRestriction(context, connection) === undefined) return;
  let issue: IssueSummary;
  try {
    issue = await connection.client().getIssue(key, { fields: ['project'], signal });
  } catch (error) {
    const failure = describeFailure(connection, error);
    throw new ToolFailure(toolError(failure.error_code, failure.message, { ...failure }));
  }
  if (!issueAllowed(context, connection, issue)) {
    throw projectNotAllowed(
      `Issue ${toolId(connection.id, key)} (project ${issue.project?.key ?? 'unknown'})`,
    );
  }
}
