/**
 * The read tools: list_providers, list_projects, search_issues, list_my_issues, get_issue. Lists fan
 * out to every active connection at once (or the one named by `provider`), each with the
 * per-provider timeout; a failing provider becomes an entry in `errors` beside the others' results.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { providerDisplayNames, type IssueSummary, type Page } from '../../providers/index.js';
import { maxPageSize, type ToolConnection, type ToolContext } from './context.js';
import {
  allowedConnections,
  fieldsWithProject,
  issueAllowed,
  projectNotAllowed,
  projectRestriction,
  withoutAddedProject,
  type ToolRegistrar,
} from './policy-gate.js';
import { outputSchemas } from './output-schemas.js';
import { fanOut, runOne } from './fan-out.js';
import { howToAddConnection } from './failures.js';
import {
  failureLines,
  issueDetailText,
  issueLine,
  presentIssueDetail,
  presentIssueSummary,
  presentProject,
  presentUser,
  presentVersion,
  projectLine,
  type PresentedIssue,
  type PresentedUser,
  type PresentedVersion,
} from './presenters.js';
import {
  activeConnections,
  guarded,
  pagedFanOut,
  resolveId,
  timeoutOf,
  toolError,
  toolResult,
  ToolFailure,
  type PagedFanOut,
} from './tool-kit.js';

const readAnnotations = { readOnlyHint: true, openWorldHint: true } as const;

const providerArg = z
  .string()
  .min(1)
  .optional()
  .describe(
    'Only this connection: its id or name (see list_providers). Default: all active connections.',
  );
const limitArg = z
  .number()
  .int()
  .min(1)
  .max(maxPageSize)
  .optional()
  .describe(`Page size, shared among the connections queried (default 20, max ${maxPageSize}).`);
const cursorArg = z
  .string()
  .min(1)
  .optional()
  .describe(
    'next_cursor from the previous page of the same call; repeat the other arguments unchanged.',
  );

function moreLine(nextCursor: string | null): string[] {
  return nextCursor ? ['', `More results: call again with cursor "${nextCursor}".`] : [];
}

/** The text and structure of a list page; an error result when every connection failed. */
function listResult<Item>(
  noun: { singular: string; plural: string },
  page: PagedFanOut<Item>,
  line: (item: Item) => string,
  key: string,
  extra: { skippedLines?: string[]; skipped?: unknown[] } = {},
): CallToolResult {
  const structured = {
    [key]: page.items,
    next_cursor: page.nextCursor,
    errors: page.failures,
    connections: page.queried,
    ...(extra.skipped ? { skipped: extra.skipped } : {}),
  };
  if (page.queried.length === 0 && page.failures.length > 0) {
    const summary = `Could not list ${noun.plural}: no connection answered.`;
    const text = [summary, ...failureLines(page.failures)].join('\n');
    // One code for the whole call: the providers' own when they agree (all timed out, all
    // refused the credential…), else that none was available.
    const codes = new Set(page.failures.map((failure) => failure.error_code));
    const [only] = codes;
    const errorCode = codes.size === 1 && only !== undefined ? only : 'providers_unavailable';
    return toolResult(
      text,
      { ...structured, error: { error_code: errorCode, message: summary } },
      true,
    );
  }
  const from = page.queried.map((q) => q.name).join(', ');
  const header =
    page.items.length === 0
      ? `No ${noun.plural} found${from ? ` in ${from}` : ''}.`
      : `${page.items.length} ${page.items.length === 1 ? noun.singular : noun.plural} from ${from}:`;
  const text = [
    header,
    ...page.items.map(line),
    ...moreLine(page.nextCursor),
    ...(extra.skippedLines ?? []),
    ...failureLines(page.failures),
  ].join('\n');
  return toolResult(text, structured);
}

/** Input schemas are built once per process and shared by every session's server (memory per session). */
const listProvidersInput = z.object({
  check: z
    .boolean()
    .optional()
    .describe('Test each active connection against its provider now (default false).'),
});
const listProjectsInput = z.object({
  provider: providerArg,
  query: z
    .string()
    .min(1)
    .optional()
    .describe('Only projects whose name or key contains this text.'),
  limit: limitArg,
  cursor: cursorArg,
});
const fieldsArg = z
  .array(z.string().trim().min(1).max(100))
  .min(1)
  .max(30)
  .optional()
  .describe(
    'Only these fields: title, status, assignee, priority, type, project, updatedAt, description, reporter, createdAt, comments, and provider fields by name (e.g. "Story Points", "customfield_10016"), which come back in `fields`. Default: the standard fields.',
  );
const searchIssuesInput = z.object({
  text: z
    .string()
    .min(1)
    .optional()
    .describe('Words to find in titles, descriptions and comments.'),
  project_id: z
    .string()
    .min(3)
    .optional()
    .describe(
      'A project id from list_projects ("<connection id>:<key>"); searches that connection only.',
    ),
  status: z
    .string()
    .min(1)
    .optional()
    .describe('"open", "closed", or a status name such as "In Progress".'),
  assignee: z
    .string()
    .min(1)
    .optional()
    .describe('"me", "none", or a person\'s name, email or login.'),
  jql: z
    .string()
    .min(1)
    .optional()
    .describe('Jira only: a JQL query, ANDed with the other filters.'),
  version: z
    .string()
    .min(1)
    .optional()
    .describe('A release / version by name or id (see list_versions).'),
  sprint: z
    .string()
    .min(1)
    .optional()
    .describe('A sprint by name or id (see list_versions); on OpenProject sprints are versions.'),
  fields: fieldsArg,
  provider: providerArg,
  limit: limitArg,
  cursor: cursorArg,
});
const listMyIssuesInput = z.object({ provider: providerArg, limit: limitArg, cursor: cursorArg });
const getIssueInput = z.object({
  id: z.string().min(3).describe('The issue id, e.g. "3f2a…:PROJ-12".'),
  fields: fieldsArg,
});
const findUsersInput = z.object({
  query: z.string().trim().min(1).max(200).describe('A name, login or email (or its start).'),
  provider: providerArg,
  limit: limitArg,
  cursor: cursorArg,
});
const listVersionsInput = z.object({
  project_id: z
    .string()
    .min(3)
    .describe('A project id from list_projects ("<connection id>:<key>").'),
  limit: limitArg,
  cursor: cursorArg,
});

export function registerReadTools(server: ToolRegistrar, context: ToolContext): void {
  /**
   * The safety net behind the provider query's own restriction: an issue outside the allowed
   * projects (or whose project is unknown) is dropped; the fields are the ones asked for.
   */
  const inScope = <I extends IssueSummary>(
    connection: ToolConnection,
    fields: readonly string[] | undefined,
    page: Page<I>,
  ): Page<I> => {
    if (projectRestriction(context, connection) === undefined) return page;
    return {
      ...page,
      items: page.items
        .filter((issue) => issueAllowed(context, connection, issue))
        .map((issue) => withoutAddedProject(issue, fields)),
    };
  };

  server.registerTool(
    'list_providers',
    {
      title: 'List my PM connections',
      description:
        'Lists your own Jira Cloud, Jira Data Center and OpenProject connections: id, name, type, base URL, whether it is active, and the last credential check. With check=true it also tests each active connection now.',
      inputSchema: listProvidersInput,
      outputSchema: outputSchemas.list_providers,
      annotations: readAnnotations,
    },
    guarded(context, 'list_providers', async ({ check }, signal) => {
      const all = await context.connections.listAll();
      if (all.length === 0) {
        return toolError(
          'no_connections',
          `You have no Jira or OpenProject connections yet. ${howToAddConnection}`,
        );
      }
      const connections = allowedConnections(context, all);
      if (connections.length === 0) throw projectNotAllowed('Every one of your connections');
      const live = new Map<string, { ok: boolean; message: string; error_code?: string }>();
      if (check) {
        const outcomes = await fanOut(
          connections.filter((connection) => connection.isActive),
          (client, _connection, callSignal) => client.checkCredentials({ signal: callSignal }),
          {
            timeoutMs: timeoutOf(context),
            signal,
            onUnexpectedError: (error) => context.onUnexpectedError?.(error, 'list_providers'),
          },
        );
        for (const outcome of outcomes) {
          live.set(
            outcome.connection.id,
            outcome.ok
              ? { ok: true, message: `Works: signed in as ${outcome.value.displayName}.` }
              : {
                  ok: false,
                  error_code: outcome.failure.error_code,
                  message: outcome.failure.message,
                },
          );
        }
      }
      const providers = connections.map((connection) => ({
        id: connection.id,
        name: connection.name,
        provider_type: connection.providerType,
        provider: providerDisplayNames[connection.providerType],
        base_url: connection.baseUrl,
        is_active: connection.isActive,
        last_checked_at: connection.lastCheckedAt,
        last_check_ok: connection.lastCheckOk,
        last_check_message: connection.lastCheckMessage,
        ...(live.has(connection.id) ? { check: live.get(connection.id) } : {}),
      }));
      const lines = providers.map((provider) => {
        const state = provider.is_active ? 'active' : 'inactive';
        const last =
          provider.last_check_ok === null
            ? 'never checked'
            : `last check ${provider.last_check_ok ? 'OK' : 'FAILED'}${provider.last_checked_at ? ` at ${provider.last_checked_at}` : ''}${provider.last_check_message ? `: ${provider.last_check_message}` : ''}`;
        const now = provider.check
          ? `\n  now: ${provider.check.ok ? '' : `${provider.check.error_code ?? 'error'} — `}${provider.check.message}`
          : '';
        return `• ${provider.name} (${provider.provider}) id ${provider.id}, ${provider.base_url} — ${state}, ${last}${now}`;
      });
      const activeCount = providers.filter((provider) => provider.is_active).length;
      const header =
        activeCount === 0
          ? `You have ${providers.length} connection(s), none active. Activate one in the PM MCP app (Providers page).`
          : `Your PM connections (${activeCount} active):`;
      return toolResult([header, ...lines].join('\n'), { providers });
    }),
  );

  server.registerTool(
    'list_projects',
    {
      title: 'List my projects',
      description:
        'Lists the Jira and OpenProject projects you can see, across all your active connections (or one, with provider), optionally filtered by text. Project ids are "<connection id>:<key>"; use them with search_issues and create_issue.',
      inputSchema: listProjectsInput,
      outputSchema: outputSchemas.list_projects,
      annotations: readAnnotations,
    },
    guarded(context, 'list_projects', async (args, signal) => {
      const page = await pagedFanOut({
        tool: 'list_projects',
        context,
        connections: () => activeConnections(context, args.provider),
        limit: args.limit,
        cursor: args.cursor,
        query: { provider: args.provider, query: args.query },
        fetch: async (client, position, callSignal, connection) => {
          const page = await client.listProjects(
            { query: args.query, cursor: position.cursor, limit: position.limit },
            { signal: callSignal },
          );
          // Project lists have no project filter on every provider: the policy applies here.
          const scope = context.projects;
          if (!scope) return page;
          return {
            ...page,
            items: page.items.filter((project) => scope.allowsProject(connection.id, project.key)),
          };
        },
        present: presentProject,
        signal,
      });
      return listResult({ singular: 'project', plural: 'projects' }, page, projectLine, 'projects');
    }),
  );

  server.registerTool(
    'search_issues',
    {
      title: 'Search issues',
      description:
        'Searches issues (Jira) and work packages (OpenProject) across your active connections by text, project, status ("open", "closed" or a status name), assignee ("me" or a name), version and sprint. jql is passed to Jira connections only (others are skipped). fields narrows what each issue carries. Returns ids "<connection id>:<key>" for get_issue and the write tools.',
      inputSchema: searchIssuesInput,
      outputSchema: outputSchemas.search_issues,
      annotations: readAnnotations,
    },
    guarded(context, 'search_issues', async (args, signal) => {
      let projectKey: string | undefined;
      const skipped: { connection_id: string; name: string; reason: string }[] = [];
      const pickConnections = async (): Promise<ToolConnection[]> => {
        let connections: ToolConnection[];
        if (args.project_id !== undefined) {
          const target = await resolveId(context, args.project_id, 'project');
          projectKey = target.key;
          connections = [target.connection];
          if (args.provider !== undefined) {
            const wanted = args.provider.trim().toLowerCase();
            if (
              target.connection.id.toLowerCase() !== wanted &&
              target.connection.name.toLowerCase() !== wanted
            ) {
              throw new ToolFailure(
                toolError(
                  'invalid_arguments',
                  `project_id belongs to connection "${target.connection.name}", not to "${args.provider}".`,
                ),
              );
            }
          }
        } else {
          connections = await activeConnections(context, args.provider);
        }
        if (args.jql === undefined) return connections;
        const jira = connections.filter((connection) => connection.providerType !== 'openproject');
        for (const connection of connections) {
          if (connection.providerType === 'openproject') {
            skipped.push({
              connection_id: connection.id,
              name: connection.name,
              reason: 'jql applies to Jira connections only',
            });
          }
        }
        if (jira.length === 0) {
          throw new ToolFailure(
            toolError(
              'invalid_arguments',
              'jql only works with Jira connections, and none of the selected connections is Jira. Use text, status and assignee instead.',
            ),
          );
        }
        return jira;
      };
      if (args.project_id !== undefined && args.cursor !== undefined) {
        projectKey = (await resolveId(context, args.project_id, 'project')).key;
      }
      const page = await pagedFanOut({
        tool: 'search_issues',
        context,
        connections: pickConnections,
        limit: args.limit,
        cursor: args.cursor,
        query: {
          text: args.text,
          project_id: args.project_id,
          status: args.status,
          assignee: args.assignee,
          jql: args.jql,
          version: args.version,
          sprint: args.sprint,
          fields: args.fields,
          provider: args.provider,
        },
        fetch: async (client, position, callSignal, connection) =>
          inScope(
            connection,
            args.fields,
            await client.searchIssues(
              {
                text: args.text,
                projectKey,
                status: args.status,
                assignee: args.assignee,
                jql: client.providerType === 'openproject' ? undefined : args.jql,
                version: args.version,
                sprint: args.sprint,
                fields: fieldsWithProject(context, connection, args.fields),
                projectKeys: projectRestriction(context, connection),
                cursor: position.cursor,
                limit: position.limit,
              },
              { signal: callSignal },
            ),
          ),
        present: presentIssueSummary,
        signal,
      });
      const skippedLines =
        skipped.length > 0
          ? ['', `Skipped (jql is Jira-only): ${skipped.map((s) => s.name).join(', ')}.`]
          : [];
      return listResult(
        { singular: 'issue', plural: 'issues' },
        sortByUpdated(page),
        issueLine,
        'issues',
        { skippedLines, skipped },
      );
    }),
  );

  server.registerTool(
    'list_my_issues',
    {
      title: 'List my open issues',
      description:
        'Lists the open issues and work packages assigned to you, across all your active connections (or one, with provider), most recently updated first.',
      inputSchema: listMyIssuesInput,
      outputSchema: outputSchemas.list_my_issues,
      annotations: readAnnotations,
    },
    guarded(context, 'list_my_issues', async (args, signal) => {
      const page = await pagedFanOut({
        tool: 'list_my_issues',
        context,
        connections: () => activeConnections(context, args.provider),
        limit: args.limit,
        cursor: args.cursor,
        query: { provider: args.provider },
        fetch: async (client, position, callSignal, connection) =>
          inScope(
            connection,
            undefined,
            await client.listMyIssues(
              {
                cursor: position.cursor,
                limit: position.limit,
                projectKeys: projectRestriction(context, connection),
              },
              { signal: callSignal },
            ),
          ),
        present: presentIssueSummary,
        signal,
      });
      return listResult(
        { singular: 'open issue assigned to you', plural: 'open issues assigned to you' },
        sortByUpdated(page),
        issueLine,
        'issues',
      );
    }),
  );

  server.registerTool(
    'get_issue',
    {
      title: 'Get an issue',
      description:
        'One issue or work package by id ("<connection id>:<key>"): title, status, assignee, priority, description (markdown, long text truncated) and the latest comments; or only the fields named in fields (custom fields by their display name).',
      inputSchema: getIssueInput,
      outputSchema: outputSchemas.get_issue,
      annotations: readAnnotations,
    },
    guarded(context, 'get_issue', async ({ id, fields }, signal) => {
      const { connection, key } = await resolveId(context, id, 'issue');
      const outcome = await runOne(
        connection,
        (client, _c, callSignal) =>
          client.getIssue(key, {
            signal: callSignal,
            fields: fieldsWithProject(context, connection, fields),
          }),
        {
          timeoutMs: timeoutOf(context),
          signal,
          onUnexpectedError: (error) => context.onUnexpectedError?.(error, 'get_issue'),
        },
      );
      if (!outcome.ok)
        return toolError(outcome.failure.error_code, outcome.failure.message, {
          ...outcome.failure,
        });
      if (!issueAllowed(context, connection, outcome.value)) {
        throw projectNotAllowed(`Issue ${id}`);
      }
      const issue = presentIssueDetail(connection, withoutAddedProject(outcome.value, fields));
      return toolResult(issueDetailText(issue), { issue });
    }),
  );

  server.registerTool(
    'find_users',
    {
      title: 'Find people',
      description:
        'Finds people by name, login or email across your active connections (or one, with provider), to assign issues or mention them. Each result has assign_as, the value to pass as assignee to create_issue and update_issue on that connection.',
      inputSchema: findUsersInput,
      outputSchema: outputSchemas.find_users,
      annotations: readAnnotations,
    },
    guarded(context, 'find_users', async (args, signal) => {
      const page = await pagedFanOut({
        tool: 'find_users',
        context,
        connections: () => activeConnections(context, args.provider),
        limit: args.limit,
        cursor: args.cursor,
        query: { query: args.query, provider: args.provider },
        fetch: (client, position, callSignal) =>
          client.findUsers(
            { query: args.query, cursor: position.cursor, limit: position.limit },
            { signal: callSignal },
          ),
        present: presentUser,
        signal,
      });
      return listResult({ singular: 'person', plural: 'people' }, page, userLine, 'users');
    }),
  );

  server.registerTool(
    'list_versions',
    {
      title: 'List releases and sprints',
      description:
        'Lists the releases / versions of a project from list_projects, and its sprints where the provider has them (Jira Software boards; OpenProject plans sprints as versions). Current work first. Each entry has the search_issues filter that finds its issues.',
      inputSchema: listVersionsInput,
      outputSchema: outputSchemas.list_versions,
      annotations: readAnnotations,
    },
    guarded(context, 'list_versions', async (args, signal) => {
      const { connection, key } = await resolveId(context, args.project_id, 'project');
      let sprintsAvailable: boolean | undefined;
      const page = await pagedFanOut({
        tool: 'list_versions',
        context,
        connections: () => Promise.resolve([connection]),
        limit: args.limit,
        cursor: args.cursor,
        query: { project_id: args.project_id },
        fetch: async (client, position, callSignal) => {
          const versions = await client.listVersions(
            { projectKey: key, cursor: position.cursor, limit: position.limit },
            { signal: callSignal },
          );
          sprintsAvailable = versions.sprintsAvailable;
          return versions;
        },
        present: (_connection, version) => presentVersion(version),
        signal,
      });
      const result = listResult(
        { singular: 'version or sprint', plural: 'versions and sprints' },
        page,
        versionLine,
        'versions',
      );
      if (page.failures.length > 0) {
        const [failure] = page.failures;
        return toolError(failure?.error_code ?? 'provider_error', failure?.message ?? '', {
          ...failure,
        });
      }
      const noSprints =
        sprintsAvailable === false
          ? connection.providerType === 'openproject'
            ? ['', 'OpenProject plans sprints as versions: they are listed above.']
            : [
                '',
                'No sprints: this Jira site has no Jira Software, or no scrum board of this project has sprints.',
              ]
          : [];
      return {
        ...result,
        content: [
          {
            type: 'text' as const,
            text: [
              ...result.content.map((item) => (item.type === 'text' ? item.text : '')),
              ...noSprints,
            ].join('\n'),
          },
        ],
        structuredContent: {
          ...(result.structuredContent ?? {}),
          project_id: args.project_id,
          ...(sprintsAvailable === undefined ? {} : { sprints_available: sprintsAvailable }),
        },
      };
    }),
  );
}

function userLine(user: PresentedUser): string {
  const details = [
    user.email,
    user.login ? `login ${user.login}` : null,
    user.active === false ? 'inactive' : null,
  ]
    .filter((part) => part !== null)
    .join(', ');
  return `• ${user.display_name}${details ? ` (${details})` : ''} — assign as "${user.assign_as}"  [${user.connection_name}]`;
}

function versionLine(version: PresentedVersion): string {
  const dates = [version.start_date?.slice(0, 10), version.end_date?.slice(0, 10)]
    .filter((date) => date)
    .join(' → ');
  const filter =
    'sprint' in version.filter
      ? `sprint "${version.filter.sprint}"`
      : `version "${version.filter.version}"`;
  return `• ${version.kind === 'sprint' ? 'Sprint' : 'Version'} ${version.name} [${version.state}]${dates ? ` ${dates}` : ''}${version.board ? ` on ${version.board}` : ''} — search with ${filter}`;
}

/** Issues from several providers, most recently updated first (stable within a provider). */
function sortByUpdated(page: PagedFanOut<PresentedIssue>): PagedFanOut<PresentedIssue> {
  const items = [...page.items].sort((a, b) =>
    (b.updated_at ?? '').localeCompare(a.updated_at ?? ''),
  );
  return { ...page, items };
}
