/**
 * The `outputSchema` of every PM tool (SPEC §3.7): what its `structuredContent` holds, on success,
 * with some providers failing (their entries in `errors`), and as a tool error (`error`, plus
 * whatever the tool had). Each schema's root is an object, as MCP requires; the success fields are
 * optional so one schema covers all three outcomes, and the presenters build their objects from the
 * types inferred here, so the two cannot drift apart. Built once per process and shared.
 */
import { z } from 'zod';
import { providerTypes } from '../../providers/index.js';

const providerType = z.enum(providerTypes);

/** The `error` of a tool error: a stable code, a message, and details that depend on the code. */
export const toolErrorSchema = z
  .object({
    error_code: z.string().describe('Stable code, e.g. provider_forbidden, not_found.'),
    message: z.string(),
  })
  .catchall(z.unknown());

/** One provider that failed while the others answered. */
export const connectionFailureSchema = z.object({
  connection_id: z.string(),
  name: z.string(),
  provider_type: providerType,
  error_code: z.string(),
  message: z.string(),
});

const sourceShape = {
  connection_id: z.string(),
  connection_name: z.string(),
  provider_type: providerType,
};

export const presentedProjectSchema = z.object({
  id: z.string().describe('"<connection id>:<key>"'),
  key: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  url: z.string().nullable(),
  ...sourceShape,
});

/**
 * An issue in a list. With `fields`, only the standard properties asked for are present (`id`,
 * `key`, `url` and the connection always are), and provider fields come in `fields` by display name.
 */
export const presentedIssueSchema = z.object({
  id: z.string().describe('"<connection id>:<key>"'),
  key: z.string(),
  title: z.string().optional(),
  status: z.string().optional(),
  status_category: z.enum(['todo', 'in_progress', 'done', 'unknown']).optional(),
  is_closed: z.boolean().optional(),
  assignee: z.string().nullable().optional(),
  priority: z.string().nullable().optional(),
  type: z.string().nullable().optional(),
  project_id: z.string().nullable().optional(),
  project_name: z.string().nullable().optional(),
  updated_at: z.string().nullable().optional(),
  url: z.string(),
  fields: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('Provider fields asked for with `fields`, by display name.'),
  ...sourceShape,
});

export const presentedCommentSchema = z.object({
  id: z.string(),
  author: z.string().nullable(),
  body: z.string(),
  body_truncated: z.boolean(),
  created_at: z.string().nullable(),
});

export const presentedIssueDetailSchema = presentedIssueSchema.extend({
  description: z.string().optional(),
  description_truncated: z.boolean().optional(),
  reporter: z.string().nullable().optional(),
  created_at: z.string().nullable().optional(),
  comment_count: z.number().nullable().optional(),
  comments: z.array(presentedCommentSchema).optional(),
});

export const presentedUserSchema = z.object({
  user_id: z.string().describe('The provider’s id (Jira accountId or user name, OpenProject id).'),
  display_name: z.string(),
  email: z.string().nullable(),
  login: z.string().nullable(),
  active: z.boolean().nullable(),
  assign_as: z.string().describe('What to pass as `assignee` to create_issue / update_issue.'),
  ...sourceShape,
});

export const presentedVersionSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['version', 'sprint']),
  state: z.enum(['open', 'released', 'archived', 'active', 'future', 'closed', 'locked']),
  description: z.string().nullable(),
  start_date: z.string().nullable(),
  end_date: z.string().nullable(),
  board: z.string().nullable(),
  filter: z
    .object({ version: z.string() })
    .or(z.object({ sprint: z.string() }))
    .describe('The search_issues argument that finds its issues.'),
});

export const presentedWorkLogSchema = z.object({
  id: z.string(),
  issue_id: z.string(),
  time_spent_seconds: z.number(),
  spent_on: z.string(),
  comment: z.string(),
  author: z.string().nullable(),
  activity: z.string().nullable(),
  ...sourceShape,
});

export const presentedLinkSchema = z.object({
  id: z.string().nullable(),
  from_id: z.string(),
  to_id: z.string(),
  type: z.string(),
  description: z.string().describe('How it reads from from_id: "blocks", "relates to", …'),
  ...sourceShape,
});

const queriedSchema = z.object({
  connection_id: z.string(),
  name: z.string(),
  provider_type: providerType,
  count: z.number(),
});

const skippedSchema = z.object({
  connection_id: z.string(),
  name: z.string(),
  reason: z.string(),
});

/** A fanned-out list: its items under `key`, the cursor, the per-provider failures. */
function listOutput<K extends string, T extends z.ZodType>(key: K, item: T) {
  return z.object({
    ...({ [key]: z.array(item).optional() } as Record<K, z.ZodOptional<z.ZodArray<T>>>),
    next_cursor: z
      .string()
      .nullable()
      .optional()
      .describe('Pass back as `cursor` (with the same arguments) for the rest.'),
    errors: z.array(connectionFailureSchema).optional(),
    connections: z.array(queriedSchema).optional(),
    skipped: z.array(skippedSchema).optional(),
    error: toolErrorSchema.optional(),
  });
}

const providerSchema = z.object({
  id: z.string(),
  name: z.string(),
  provider_type: providerType,
  provider: z.string(),
  base_url: z.string(),
  is_active: z.boolean(),
  last_checked_at: z.string().nullable(),
  last_check_ok: z.boolean().nullable(),
  last_check_message: z.string().nullable(),
  check: z
    .object({ ok: z.boolean(), message: z.string(), error_code: z.string().optional() })
    .optional(),
});

const issueOutput = z.object({
  issue: presentedIssueDetailSchema.optional(),
  error: toolErrorSchema.optional(),
});

export const outputSchemas = {
  list_providers: z.object({
    providers: z.array(providerSchema).optional(),
    error: toolErrorSchema.optional(),
  }),
  list_projects: listOutput('projects', presentedProjectSchema),
  search_issues: listOutput('issues', presentedIssueSchema),
  list_my_issues: listOutput('issues', presentedIssueSchema),
  get_issue: issueOutput,
  find_users: listOutput('users', presentedUserSchema),
  list_versions: listOutput('versions', presentedVersionSchema).extend({
    project_id: z.string().optional(),
    sprints_available: z
      .boolean()
      .optional()
      .describe('False when the provider has no sprints here (no Jira Software, or OpenProject).'),
  }),
  create_issue: issueOutput,
  update_issue: issueOutput,
  transition_issue: z.object({
    id: z.string().optional(),
    status: z.string().optional(),
    status_category: z.enum(['todo', 'in_progress', 'done', 'unknown']).optional(),
    is_closed: z.boolean().optional(),
    connection_id: z.string().optional(),
    connection_name: z.string().optional(),
    provider_type: providerType.optional(),
    error: toolErrorSchema.optional(),
  }),
  add_comment: z.object({
    issue_id: z.string().optional(),
    comment: presentedCommentSchema.optional(),
    connection_id: z.string().optional(),
    connection_name: z.string().optional(),
    provider_type: providerType.optional(),
    error: toolErrorSchema.optional(),
  }),
  log_work: z.object({
    work_log: presentedWorkLogSchema.optional(),
    error: toolErrorSchema.optional(),
  }),
  link_issues: z.object({
    link: presentedLinkSchema.optional(),
    error: toolErrorSchema.optional(),
  }),
} as const;

export type ToolName = keyof typeof outputSchemas;
export type PresentedProject = z.infer<typeof presentedProjectSchema>;
export type PresentedIssue = z.infer<typeof presentedIssueSchema>;
export type PresentedIssueDetail = z.infer<typeof presentedIssueDetailSchema>;
export type PresentedComment = z.infer<typeof presentedCommentSchema>;
export type PresentedUser = z.infer<typeof presentedUserSchema>;
export type PresentedVersion = z.infer<typeof presentedVersionSchema>;
export type PresentedWorkLog = z.infer<typeof presentedWorkLogSchema>;
export type PresentedLink = z.infer<typeof presentedLinkSchema>;
