/**
 * The write tools: create_issue, update_issue, transition_issue, add_comment. Registered only for
 * `write`-scope keys (so `tools/list` hides them from `read` keys), and each handler refuses again
 * on its own in case it is ever reached with a read scope. Writes end at the call's deadline
 * (deadline.ts) like reads: a provider that has not answered by then leaves the outcome unknown
 * either way (it may act on a request it never answers), and the timeout says so.
 *
 * Annotations: none is read-only; none is destructive (Jira and OpenProject keep the history of
 * every field change, so an update can be undone); update and transition are idempotent (the same
 * call twice leaves the same state), create and comment are not.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { CallOptions, ProviderClient } from '../../providers/index.js';
import type { ToolConnection, ToolContext } from './context.js';
import { assertIssueAllowed, type ToolRegistrar } from './policy-gate.js';
import { untilAborted } from './deadline.js';
import { describeWriteFailure, isUnknownStatus } from './failures.js';
import { toolId } from './ids.js';
import { outputSchemas } from './output-schemas.js';
import {
  issueDetailText,
  presentComment,
  presentIssueDetail,
  presentLink,
  presentStatus,
  presentWorkLog,
} from './presenters.js';
import { guarded, resolveId, toolError, toolResult } from './tool-kit.js';

const writeAnnotations = {
  readOnlyHint: false,
  destructiveHint: false,
  openWorldHint: true,
} as const;

export { writeToolNames } from './names.js';

function readOnlyRefusal(tool: string): CallToolResult {
  return toolError(
    'insufficient_scope',
    `${tool} changes data, and this MCP key is read-only. Use a key with the "write" scope.`,
  );
}

/** `"1h 30m"`, `"90m"`, `"1.5h"`, `"2h15m"` → seconds; undefined when it is not that. */
export function parseTimeSpent(text: string): number | undefined {
  const compact = text.trim().toLowerCase().replace(/\s+/g, '');
  const match = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+)m)?$/.exec(compact);
  if (!match || compact === '' || (match[1] === undefined && match[2] === undefined))
    return undefined;
  return Math.round(Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60);
}

/**
 * Runs a write on one connection under the call's deadline; a provider failure becomes a tool
 * error naming the connection (a timeout says the write may or may not have been made).
 */
async function write<T>(
  context: ToolContext,
  tool: string,
  connection: ToolConnection,
  signal: AbortSignal,
  operation: (client: ProviderClient, options: CallOptions) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; result: CallToolResult; error: unknown }> {
  try {
    const value = await untilAborted(
      Promise.resolve().then(() => operation(connection.client(), { signal })),
      signal,
    );
    return { ok: true, value };
  } catch (error) {
    const failure = describeWriteFailure(connection, error);
    if (failure.error_code === 'internal_error') context.onUnexpectedError?.(error, tool);
    return {
      ok: false,
      error,
      result: toolError(failure.error_code, failure.message, { ...failure }),
    };
  }
}

/** Input schemas are built once per process and shared by every session's server (memory per session). */
const createIssueInput = z.object({
  project_id: z
    .string()
    .min(3)
    .describe('A project id from list_projects ("<connection id>:<key>").'),
  title: z.string().trim().min(1).max(255),
  description: z.string().max(32_000).optional().describe('Markdown.'),
  type: z
    .string()
    .min(1)
    .optional()
    .describe('Issue type name; the project default (Jira: Task) when omitted.'),
  assignee: z.string().min(1).optional().describe('"me" or a person\'s name, email or login.'),
  priority: z.string().min(1).optional().describe('Priority name, e.g. High.'),
});
const updateIssueInput = z.object({
  id: z.string().min(3).describe('The issue id ("<connection id>:<key>").'),
  title: z.string().trim().min(1).max(255).optional(),
  description: z.string().max(32_000).optional().describe('Markdown; replaces the description.'),
  assignee: z
    .string()
    .min(1)
    .optional()
    .describe('"me", a person\'s name, email or login, or "none" to unassign.'),
  priority: z.string().min(1).optional(),
});
const transitionIssueInput = z.object({
  id: z.string().min(3).describe('The issue id ("<connection id>:<key>").'),
  status: z.string().trim().min(1).describe('The target status name.'),
});
const logWorkInput = z.object({
  id: z.string().min(3).describe('The issue id ("<connection id>:<key>").'),
  time_spent: z
    .string()
    .trim()
    .min(1)
    .max(40)
    .describe('Hours and/or minutes: "1h 30m", "45m", "2h", "1.5h".'),
  date: z
    .string()
    .trim()
    .min(10)
    .max(40)
    .optional()
    .describe('The day worked, YYYY-MM-DD, or an ISO 8601 date-time. Default: now.'),
  comment: z.string().max(32_000).optional().describe('What the time went on (markdown).'),
  activity: z
    .string()
    .min(1)
    .optional()
    .describe('OpenProject only: the time entry activity, e.g. "Development".'),
});
const linkIssuesInput = z.object({
  from_id: z
    .string()
    .min(3)
    .describe('The issue the relation goes out from ("<connection id>:<key>").'),
  to_id: z.string().min(3).describe('The other issue, on the same connection.'),
  type: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .describe(
      'Jira: a link type name or description ("Blocks", "blocks", "is blocked by", "relates to"); OpenProject: relates, blocks, blocked, precedes, follows, duplicates, duplicated, includes, partof, requires, required.',
    ),
  comment: z
    .string()
    .max(32_000)
    .optional()
    .describe('Markdown; a Jira comment, or the OpenProject relation description.'),
});
const addCommentInput = z.object({
  id: z.string().min(3).describe('The issue id ("<connection id>:<key>").'),
  body: z.string().trim().min(1).max(32_000).describe('The comment, in markdown.'),
});

export function registerWriteTools(server: ToolRegistrar, context: ToolContext): void {
  const allowed = (): boolean => context.scope === 'write';

  server.registerTool(
    'create_issue',
    {
      title: 'Create an issue',
      description:
        'Creates an issue (Jira) or work package (OpenProject) in a project from list_projects: title, optional markdown description, type (e.g. Bug, Task), assignee ("me" or a name) and priority.',
      inputSchema: createIssueInput,
      outputSchema: outputSchemas.create_issue,
      annotations: { ...writeAnnotations, idempotentHint: false },
    },
    guarded(context, 'create_issue', async (args, signal) => {
      if (!allowed()) return readOnlyRefusal('create_issue');
      const { connection, key } = await resolveId(context, args.project_id, 'project');
      const outcome = await write(context, 'create_issue', connection, signal, (client, options) =>
        client.createIssue(
          {
            projectKey: key,
            title: args.title,
            description: args.description,
            type: args.type,
            assignee: args.assignee,
            priority: args.priority,
          },
          options,
        ),
      );
      if (!outcome.ok) return outcome.result;
      const issue = presentIssueDetail(connection, outcome.value);
      return toolResult(`Created ${issue.id}.\n\n${issueDetailText(issue)}`, { issue });
    }),
  );

  server.registerTool(
    'update_issue',
    {
      title: 'Update an issue',
      description:
        'Changes the title, description (markdown), assignee ("me", a name, or "none" to unassign) and/or priority of an issue or work package.',
      inputSchema: updateIssueInput,
      outputSchema: outputSchemas.update_issue,
      annotations: { ...writeAnnotations, idempotentHint: true },
    },
    guarded(context, 'update_issue', async (args, signal) => {
      if (!allowed()) return readOnlyRefusal('update_issue');
      if (
        [args.title, args.description, args.assignee, args.priority].every(
          (value) => value === undefined,
        )
      ) {
        return toolError(
          'invalid_arguments',
          'Nothing to change: give at least one of title, description, assignee or priority.',
        );
      }
      const { connection, key } = await resolveId(context, args.id, 'issue');
      await assertIssueAllowed(context, connection, key, signal);
      const unassign =
        args.assignee !== undefined &&
        ['none', 'unassigned', 'nobody'].includes(args.assignee.trim().toLowerCase());
      const outcome = await write(context, 'update_issue', connection, signal, (client, options) =>
        client.updateIssue(
          key,
          {
            title: args.title,
            description: args.description,
            assignee: unassign ? null : args.assignee,
            priority: args.priority,
          },
          options,
        ),
      );
      if (!outcome.ok) return outcome.result;
      const issue = presentIssueDetail(connection, outcome.value);
      return toolResult(`Updated ${issue.id}.\n\n${issueDetailText(issue)}`, { issue });
    }),
  );

  server.registerTool(
    'transition_issue',
    {
      title: 'Move an issue to another status',
      description:
        'Moves an issue or work package to the status with this name (case-insensitive), e.g. "In Review" or "Done". When no reachable status has that name, the answer lists the statuses it can move to.',
      inputSchema: transitionIssueInput,
      outputSchema: outputSchemas.transition_issue,
      annotations: { ...writeAnnotations, idempotentHint: true },
    },
    guarded(context, 'transition_issue', async ({ id, status }, signal) => {
      if (!allowed()) return readOnlyRefusal('transition_issue');
      const { connection, key } = await resolveId(context, id, 'issue');
      await assertIssueAllowed(context, connection, key, signal);
      const outcome = await write(
        context,
        'transition_issue',
        connection,
        signal,
        (client, options) => client.transitionIssue(key, status, options),
      );
      if (!outcome.ok) {
        if (isUnknownStatus(outcome.error)) {
          const reachable = [...outcome.error.reachableStatuses];
          return toolError(
            'unknown_status',
            `${toolId(connection.id, key)}: ${outcome.error.message}`,
            {
              requested_status: status,
              reachable_statuses: reachable,
              connection_id: connection.id,
            },
          );
        }
        return outcome.result;
      }
      const issueId = toolId(connection.id, key);
      return toolResult(`${issueId} is now "${outcome.value.name}".`, {
        id: issueId,
        ...presentStatus(outcome.value),
        connection_id: connection.id,
        connection_name: connection.name,
        provider_type: connection.providerType,
      });
    }),
  );

  server.registerTool(
    'add_comment',
    {
      title: 'Comment on an issue',
      description: 'Adds a comment (markdown) to an issue or work package.',
      inputSchema: addCommentInput,
      outputSchema: outputSchemas.add_comment,
      annotations: { ...writeAnnotations, idempotentHint: false },
    },
    guarded(context, 'add_comment', async ({ id, body }, signal) => {
      if (!allowed()) return readOnlyRefusal('add_comment');
      const { connection, key } = await resolveId(context, id, 'issue');
      await assertIssueAllowed(context, connection, key, signal);
      const outcome = await write(context, 'add_comment', connection, signal, (client, options) =>
        client.addComment(key, body, options),
      );
      if (!outcome.ok) return outcome.result;
      const issueId = toolId(connection.id, key);
      const comment = presentComment(outcome.value);
      return toolResult(
        `Comment ${comment.id} added to ${issueId} by ${comment.author ?? 'you'}:\n${comment.body}`,
        {
          issue_id: issueId,
          comment,
          connection_id: connection.id,
          connection_name: connection.name,
          provider_type: connection.providerType,
        },
      );
    }),
  );

  server.registerTool(
    'log_work',
    {
      title: 'Log time on an issue',
      description:
        "Records time spent on an issue or work package (a Jira worklog, an OpenProject time entry), with an optional comment and day. The time is logged as the connection's own account.",
      inputSchema: logWorkInput,
      outputSchema: outputSchemas.log_work,
      // Logging twice records the time twice.
      annotations: { ...writeAnnotations, idempotentHint: false },
    },
    guarded(context, 'log_work', async (args, signal) => {
      if (!allowed()) return readOnlyRefusal('log_work');
      const seconds = parseTimeSpent(args.time_spent);
      if (seconds === undefined) {
        return toolError(
          'invalid_arguments',
          `"${args.time_spent}" is not a time spent. Use hours and/or minutes, like "1h 30m", "45m" or "1.5h".`,
        );
      }
      const { connection, key } = await resolveId(context, args.id, 'issue');
      await assertIssueAllowed(context, connection, key, signal);
      const outcome = await write(context, 'log_work', connection, signal, (client, options) =>
        client.logWork(
          key,
          {
            timeSpentSeconds: seconds,
            comment: args.comment,
            started: args.date,
            activity: args.activity,
          },
          options,
        ),
      );
      if (!outcome.ok) return outcome.result;
      const workLog = presentWorkLog(connection, outcome.value);
      const minutes = Math.round(workLog.time_spent_seconds / 60);
      const spent = `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
      return toolResult(
        `Logged ${spent} on ${workLog.issue_id} for ${workLog.spent_on}${workLog.activity ? ` (${workLog.activity})` : ''}${workLog.comment ? `: ${workLog.comment}` : '.'}`,
        { work_log: workLog },
      );
    }),
  );

  server.registerTool(
    'link_issues',
    {
      title: 'Link two issues',
      description:
        'Relates two issues of the same connection: a Jira issue link by type name ("blocks", "is blocked by", "relates to", "duplicates", …) or an OpenProject relation (relates, blocks, precedes, follows, …). When the type matches none, the answer lists the available ones.',
      inputSchema: linkIssuesInput,
      outputSchema: outputSchemas.link_issues,
      // The same link twice leaves the same state (Jira keeps one link; OpenProject refuses the second).
      annotations: { ...writeAnnotations, idempotentHint: true },
    },
    guarded(context, 'link_issues', async (args, signal) => {
      if (!allowed()) return readOnlyRefusal('link_issues');
      const from = await resolveId(context, args.from_id, 'issue');
      const to = await resolveId(context, args.to_id, 'issue');
      if (from.connection.id !== to.connection.id) {
        return toolError(
          'invalid_arguments',
          `Both issues must be on the same connection: ${args.from_id} is on "${from.connection.name}", ${args.to_id} on "${to.connection.name}".`,
        );
      }
      const { connection } = from;
      await assertIssueAllowed(context, connection, from.key, signal);
      await assertIssueAllowed(context, connection, to.key, signal);
      const outcome = await write(context, 'link_issues', connection, signal, (client, options) =>
        client.linkIssues(
          {
            fromKey: from.key,
            toKey: to.key,
            type: args.type,
            comment: args.comment,
          },
          options,
        ),
      );
      if (!outcome.ok) return outcome.result;
      const link = presentLink(connection, outcome.value);
      return toolResult(
        `Linked: ${link.from_id} ${link.description} ${link.to_id} (${link.type}).`,
        {
          link,
        },
      );
    }),
  );
}
