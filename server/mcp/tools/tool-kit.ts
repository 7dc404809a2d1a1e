/**
 * What every PM tool shares: result builders, choosing the caller's connections (with the "add a
 * connection" answer when there are none), resolving `"<connection id>:<key>"` ids (another
 * user's connection reads exactly like a missing one), and the paged fan-out of list tools.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { isDatabaseUnavailableError } from '../../db/database.js';
import { providerDisplayNames, type Page, type ProviderClient } from '../../providers/index.js';
import {
  defaultPageSize,
  defaultPerProviderTimeoutMs,
  maxListResultChars,
  type ToolConnection,
  type ToolContext,
} from './context.js';
import {
  decodeCursor,
  encodeCursor,
  queryFingerprint,
  splitLimit,
  type ConnectionPosition,
} from './cursor.js';
import { startCallDeadline } from './deadline.js';
import { fanOut } from './fan-out.js';
import { formatSeconds, howToAddConnection, type ConnectionFailure } from './failures.js';
import { parseToolId } from './ids.js';
import {
  allowedConnections,
  assertConnectionAllowed,
  assertProjectAllowed,
  projectNotAllowed,
} from './policy-gate.js';

export function toolResult(
  text: string,
  structuredContent: Record<string, unknown>,
  isError = false,
): CallToolResult {
  return {
    content: [{ type: 'text', text }],
    structuredContent,
    ...(isError ? { isError: true } : {}),
  };
}

export function toolError(
  errorCode: string,
  message: string,
  extra: Record<string, unknown> = {},
): CallToolResult {
  return toolResult(message, { error: { error_code: errorCode, message, ...extra } }, true);
}

/** Thrown inside a handler to end the call with a tool error. */
export class ToolFailure extends Error {
  constructor(readonly result: CallToolResult) {
    super('tool failure');
  }
}

/**
 * Wraps a handler: the call runs under its deadline (deadline.ts: the handler's signal aborts at
 * the provider timeout, and the call answers then at the latest); a `ToolFailure` becomes its
 * result; anything unexpected becomes a generic tool error (the SDK would otherwise put the raw
 * error message into the result).
 */
export function guarded<A>(
  context: ToolContext,
  tool: string,
  handler: (args: A, signal: AbortSignal) => Promise<CallToolResult>,
) {
  return async (args: A, ctx: { mcpReq: { signal: AbortSignal } }): Promise<CallToolResult> => {
    const started = Date.now();
    const timeoutMs = timeoutOf(context);
    const deadline = startCallDeadline(timeoutMs, ctx.mcpReq.signal);
    try {
      return await deadline.bound(handler(args, deadline.signal));
    } catch (error) {
      if (error instanceof ToolFailure) return error.result;
      if (deadline.signal.aborted) {
        if (!deadline.timedOut()) return toolError('cancelled', 'The call was cancelled.');
        return toolError(
          'provider_timeout',
          `${tool} did not finish within ${formatSeconds(timeoutMs)}: a provider or the server's database is answering too slowly. Try again later.`,
        );
      }
      // Not a bug: the server's own database is down (a restart, a failover). Say so.
      if (isDatabaseUnavailableError(error)) {
        return toolError(
          'database_unavailable',
          "The PM MCP server's database is unavailable right now; try again shortly.",
        );
      }
      context.onUnexpectedError?.(error, tool);
      return toolError(
        'internal_error',
        'The PM MCP server hit an unexpected error running this tool.',
      );
    } finally {
      deadline.clear();
      if (deadline.timedOut())
        context.onDeadline?.(tool, Date.now() - started, deadline.timerLateMs());
    }
  };
}

export function timeoutOf(context: ToolContext): number {
  return context.perProviderTimeoutMs ?? defaultPerProviderTimeoutMs;
}

/**
 * The caller's active connections, optionally narrowed to one by id or name. No connection at all
 * (or none active) is a tool error that says how to add or activate one.
 */
export async function activeConnections(
  context: ToolContext,
  provider?: string,
): Promise<ToolConnection[]> {
  const active = await context.connections.listActive();
  if (active.length === 0) {
    const all = await context.connections.listAll();
    if (all.length === 0) {
      throw new ToolFailure(
        toolError(
          'no_connections',
          `You have no Jira or OpenProject connections yet. ${howToAddConnection}`,
        ),
      );
    }
    throw new ToolFailure(
      toolError(
        'no_active_connections',
        `None of your PM connections is active (${all.map((c) => `"${c.name}"`).join(', ')}). ` +
          'Activate one in the PM MCP app (Providers page) or with `PATCH /api/users/me/providers/<id>` and `{"is_active": true}`. ' +
          howToAddConnection,
      ),
    );
  }
  const permitted = allowedConnections(context, active);
  const wanted = provider?.trim().toLowerCase() ?? '';
  if (permitted.length === 0) {
    throw projectNotAllowed(
      wanted === '' ? 'Every one of your active connections' : `Connection "${provider}"`,
    );
  }
  if (wanted === '') return permitted;
  if (
    permitted.length < active.length &&
    !permitted.some((c) => c.id.toLowerCase() === wanted || c.name.toLowerCase() === wanted) &&
    active.some((c) => c.id.toLowerCase() === wanted || c.name.toLowerCase() === wanted)
  ) {
    throw projectNotAllowed(`Connection "${provider}"`);
  }
  const matching = permitted.filter(
    (connection) =>
      connection.id.toLowerCase() === wanted || connection.name.toLowerCase() === wanted,
  );
  if (matching.length === 0) {
    const names = permitted
      .map((c) => `"${c.name}" (${c.id}, ${providerDisplayNames[c.providerType]})`)
      .join(', ');
    throw new ToolFailure(
      toolError(
        'provider_not_found',
        `No active connection has the id or name "${provider}". Your active connections: ${names}.`,
      ),
    );
  }
  return matching;
}

/**
 * The connection and key of an `"<connection id>:<key>"` id. A connection that is not the
 * caller's is "not found", word for word as one that does not exist.
 */
export async function resolveId(
  context: ToolContext,
  id: string,
  what: 'issue' | 'project',
): Promise<{ connection: ToolConnection; key: string }> {
  const parsed = parseToolId(id);
  const source = what === 'issue' ? 'search_issues, list_my_issues or get_issue' : 'list_projects';
  if (!parsed) {
    throw new ToolFailure(
      toolError(
        'invalid_id',
        `"${id}" is not ${what === 'issue' ? 'an issue' : 'a project'} id. Ids look like "<connection id>:<key>"; take one from ${source}.`,
      ),
    );
  }
  const connection = await context.connections.get(parsed.connectionId);
  if (!connection) {
    throw new ToolFailure(
      toolError(
        'not_found',
        `No connection with id "${parsed.connectionId}" was found among your PM connections, so ${what} "${id}" was not found. Use list_providers to see your connections.`,
      ),
    );
  }
  if (what === 'project') assertProjectAllowed(context, connection, parsed.key);
  else assertConnectionAllowed(context, connection);
  if (!connection.isActive) {
    throw new ToolFailure(
      toolError(
        'connection_inactive',
        `Connection "${connection.name}" is inactive. Activate it in the PM MCP app (Providers page) or with \`PATCH /api/users/me/providers/${connection.id}\` and \`{"is_active": true}\`.`,
      ),
    );
  }
  return { connection, key: parsed.key };
}

export interface PagedFanOut<Item> {
  items: Item[];
  nextCursor: string | null;
  failures: ConnectionFailure[];
  /** How many items each queried connection gave. */
  queried: {
    connection_id: string;
    name: string;
    provider_type: ToolConnection['providerType'];
    count: number;
  }[];
}

/**
 * One page of a list across connections. The first page splits `limit` among the connections; a
 * cursor continues only the connections that had more, each with its own provider cursor.
 */
export async function pagedFanOut<T, Item>(options: {
  tool: string;
  context: ToolContext;
  /** Candidates for the first page (ignored when a cursor is given). */
  connections: () => Promise<ToolConnection[]>;
  limit: number | undefined;
  cursor: string | undefined;
  /** The arguments that define the query, for the cursor's fingerprint. */
  query: Record<string, unknown>;
  fetch: (
    client: ProviderClient,
    position: { cursor: string | undefined; limit: number },
    signal: AbortSignal,
    connection: ToolConnection,
  ) => Promise<Page<T>>;
  present: (connection: ToolConnection, item: T) => Item;
  signal: AbortSignal;
}): Promise<PagedFanOut<Item>> {
  const fingerprint = queryFingerprint(options.tool, options.query);
  const targets: { connection: ToolConnection; position: ConnectionPosition }[] = [];
  const failures: ConnectionFailure[] = [];

  if (options.cursor !== undefined && options.cursor !== '') {
    const decoded = decodeCursor(options.cursor);
    if (!decoded || decoded.tool !== options.tool) {
      throw new ToolFailure(
        toolError(
          'invalid_cursor',
          `That cursor is not a ${options.tool} cursor. Call ${options.tool} without a cursor to start again.`,
        ),
      );
    }
    if (decoded.fingerprint !== fingerprint) {
      throw new ToolFailure(
        toolError(
          'invalid_cursor',
          'That cursor belongs to a query with different arguments. Repeat the same arguments with the cursor, or start again without one.',
        ),
      );
    }
    for (const [connectionId, position] of Object.entries(decoded.positions)) {
      const connection = await options.context.connections.get(connectionId);
      // A cursor made before the key's limits changed does not reach past them.
      if (connection?.isActive && allowedConnections(options.context, [connection]).length > 0)
        targets.push({ connection, position });
    }
  } else {
    const connections = await options.connections();
    const limits = splitLimit(options.limit ?? defaultPageSize, connections.length);
    connections.forEach((connection, index) =>
      targets.push({ connection, position: { cursor: undefined, limit: limits[index] ?? 1 } }),
    );
  }

  const byConnection = new Map(targets.map((target) => [target.connection.id, target.position]));
  const outcomes = await fanOut(
    targets.map((target) => target.connection),
    async (client, connection, signal) => {
      const position = byConnection.get(connection.id) ?? { cursor: undefined, limit: 1 };
      const page = await options.fetch(
        client,
        { cursor: position.cursor, limit: position.limit },
        signal,
        connection,
      );
      // A page cut short last time: the same provider page again, after what was already shown.
      return position.skip ? { ...page, items: page.items.slice(position.skip) } : page;
    },
    {
      timeoutMs: timeoutOf(options.context),
      signal: options.signal,
      onUnexpectedError: (error) => options.context.onUnexpectedError?.(error, options.tool),
    },
  );

  const items: Item[] = [];
  const positions: Record<string, ConnectionPosition> = {};
  const queried: PagedFanOut<Item>['queried'] = [];
  // The result size bound: items are kept while their JSON fits in what the failures leave of
  // `maxListResultChars`; the first item always (each is bounded on its own by the presenters).
  let budget = maxListResultChars - 2_000;
  for (const outcome of outcomes) {
    if (!outcome.ok) budget -= JSON.stringify(outcome.failure).length;
  }
  for (const outcome of outcomes) {
    const { connection } = outcome;
    if (!outcome.ok) {
      failures.push(outcome.failure);
      continue;
    }
    const position = byConnection.get(connection.id) ?? { cursor: undefined, limit: 1 };
    let kept = 0;
    for (const item of outcome.value.items) {
      const presented = options.present(connection, item);
      const size = JSON.stringify(presented).length + 1;
      if (size > budget && items.length > 0) break;
      items.push(presented);
      budget -= size;
      kept++;
    }
    queried.push({
      connection_id: connection.id,
      name: connection.name,
      provider_type: connection.providerType,
      count: kept,
    });
    if (kept < outcome.value.items.length) {
      // Cut short: the next call fetches this provider page again and skips what was shown.
      positions[connection.id] = {
        cursor: position.cursor,
        limit: position.limit,
        skip: (position.skip ?? 0) + kept,
      };
    } else if (outcome.value.nextCursor !== null) {
      positions[connection.id] = { cursor: outcome.value.nextCursor, limit: position.limit };
    }
  }
  return {
    items,
    nextCursor: encodeCursor({ tool: options.tool, fingerprint, positions }),
    failures,
    queried,
  };
}
