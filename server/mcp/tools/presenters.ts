/**
 * Turns provider results into what a tool returns: snake_case structured content and readable
 * text, with `"<connection id>:<key>"` ids, the connection each item came from, and long text cut
 * with a visible marker. Nothing from a connection but its id, name and type is ever shown here.
 */
import {
  providerDisplayNames,
  type Comment,
  type IssueDetail,
  type IssueLink,
  type IssueSummary,
  type Person,
  type Project,
  type StandardIssueField,
  type Status,
  type UserInfo,
  type Version,
  type WorkLog,
} from '../../providers/index.js';
import {
  maxCommentChars,
  maxDescriptionChars,
  maxFieldValueChars,
  maxProjectDescriptionChars,
  type ToolConnection,
} from './context.js';
import type { ConnectionFailure } from './failures.js';
import { toolId } from './ids.js';
import type {
  PresentedComment,
  PresentedIssue,
  PresentedIssueDetail,
  PresentedLink,
  PresentedProject,
  PresentedUser,
  PresentedVersion,
  PresentedWorkLog,
} from './output-schemas.js';

export type {
  PresentedComment,
  PresentedIssue,
  PresentedIssueDetail,
  PresentedLink,
  PresentedProject,
  PresentedUser,
  PresentedVersion,
  PresentedWorkLog,
} from './output-schemas.js';

export function truncate(
  text: string,
  max: number,
  where?: string,
): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  const rest = text.length - max;
  const open = where ? `; open ${where} for the full text` : '';
  return {
    text: `${text.slice(0, max)}\n… [truncated: ${rest} more characters${open}]`,
    truncated: true,
  };
}

function isoDate(value: string | null): string | null {
  if (value === null) return null;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? value : new Date(parsed).toISOString();
}

function personName(person: Person | null): string | null {
  return person?.displayName ?? null;
}

function source(connection: ToolConnection) {
  return {
    connection_id: connection.id,
    connection_name: connection.name,
    provider_type: connection.providerType,
  };
}

export function presentStatus(status: Status) {
  return { status: status.name, status_category: status.category, is_closed: status.isClosed };
}

/**
 * A provider field's value, bounded: a long string is cut, and a value whose JSON is too long is
 * replaced by its cut JSON text, so one field cannot blow up a result.
 */
function boundedFieldValue(value: unknown, url: string): unknown {
  if (typeof value === 'string') return truncate(value, maxFieldValueChars, url).text;
  if (value === null || typeof value !== 'object') return value;
  const json = JSON.stringify(value);
  return json.length <= maxFieldValueChars ? value : truncate(json, maxFieldValueChars, url).text;
}

function presentExtraFields(issue: IssueSummary): { fields?: Record<string, unknown> } {
  if (issue.extraFields === undefined) return {};
  return {
    fields: Object.fromEntries(
      Object.entries(issue.extraFields).map(([name, value]) => [
        name,
        boundedFieldValue(value, issue.url),
      ]),
    ),
  };
}

/** Whether a standard field is part of the result (all are, unless `fields` chose some). */
function wanted(issue: IssueSummary, field: StandardIssueField): boolean {
  return issue.selectedFields === undefined || issue.selectedFields.includes(field);
}

export function presentProject(connection: ToolConnection, project: Project): PresentedProject {
  const description = project.description
    ? truncate(project.description, maxProjectDescriptionChars).text
    : null;
  return {
    id: toolId(connection.id, project.key),
    key: project.key,
    name: project.name,
    description,
    url: project.url,
    ...source(connection),
  };
}

export function presentIssueSummary(
  connection: ToolConnection,
  issue: IssueSummary,
): PresentedIssue {
  return {
    id: toolId(connection.id, issue.key),
    key: issue.key,
    ...(wanted(issue, 'title') ? { title: issue.title } : {}),
    ...(wanted(issue, 'status') ? presentStatus(issue.status) : {}),
    ...(wanted(issue, 'assignee') ? { assignee: personName(issue.assignee) } : {}),
    ...(wanted(issue, 'priority') ? { priority: issue.priority } : {}),
    ...(wanted(issue, 'type') ? { type: issue.type } : {}),
    ...(wanted(issue, 'project')
      ? {
          project_id: issue.project ? toolId(connection.id, issue.project.key) : null,
          project_name: issue.project?.name ?? null,
        }
      : {}),
    ...(wanted(issue, 'updatedAt') ? { updated_at: isoDate(issue.updatedAt) } : {}),
    url: issue.url,
    ...presentExtraFields(issue),
    ...source(connection),
  };
}

export function presentComment(comment: Comment, url?: string): PresentedComment {
  const body = truncate(comment.body, maxCommentChars, url);
  return {
    id: comment.id,
    author: personName(comment.author),
    body: body.text,
    body_truncated: body.truncated,
    created_at: isoDate(comment.createdAt),
  };
}

export function presentIssueDetail(
  connection: ToolConnection,
  issue: IssueDetail,
): PresentedIssueDetail {
  const description = truncate(issue.description, maxDescriptionChars, issue.url);
  return {
    ...presentIssueSummary(connection, issue),
    ...(wanted(issue, 'description')
      ? { description: description.text, description_truncated: description.truncated }
      : {}),
    ...(wanted(issue, 'reporter') ? { reporter: personName(issue.reporter) } : {}),
    ...(wanted(issue, 'createdAt') ? { created_at: isoDate(issue.createdAt) } : {}),
    ...(wanted(issue, 'comments')
      ? {
          comment_count: issue.commentCount,
          comments: issue.comments.map((comment) => presentComment(comment, issue.url)),
        }
      : {}),
  };
}

export function presentUser(connection: ToolConnection, user: UserInfo): PresentedUser {
  return {
    user_id: user.id,
    display_name: user.displayName,
    email: user.email,
    login: user.login,
    active: user.active,
    // What the providers' assignee lookup finds exactly: the email, else the login, else the name.
    assign_as: user.email ?? user.login ?? user.displayName,
    ...source(connection),
  };
}

export function presentVersion(version: Version): PresentedVersion {
  return {
    id: version.id,
    name: version.name,
    kind: version.kind,
    state: version.state,
    description: version.description
      ? truncate(version.description, maxProjectDescriptionChars).text
      : null,
    start_date: version.startDate,
    end_date: version.endDate,
    board: version.board,
    filter: version.kind === 'sprint' ? { sprint: version.id } : { version: version.id },
  };
}

export function presentWorkLog(connection: ToolConnection, log: WorkLog): PresentedWorkLog {
  return {
    id: log.id,
    issue_id: toolId(connection.id, log.issueKey),
    time_spent_seconds: log.timeSpentSeconds,
    spent_on: log.spentOn,
    comment: truncate(log.comment, maxCommentChars).text,
    author: personName(log.author),
    activity: log.activity,
    ...source(connection),
  };
}

export function presentLink(connection: ToolConnection, link: IssueLink): PresentedLink {
  return {
    id: link.id,
    from_id: toolId(connection.id, link.fromKey),
    to_id: toolId(connection.id, link.toKey),
    type: link.type,
    description: link.description,
    ...source(connection),
  };
}

// ---- text ---------------------------------------------------------------------------------------

export function connectionLabel(connection: Pick<ToolConnection, 'name' | 'providerType'>): string {
  return `${connection.name} · ${providerDisplayNames[connection.providerType]}`;
}

export function projectLine(project: PresentedProject): string {
  return `• ${project.id} — ${project.name}  [${project.connection_name}]`;
}

/** `Name: value` pairs of the provider fields asked for, one line. */
function fieldsText(fields: Record<string, unknown> | undefined): string | null {
  if (fields === undefined || Object.keys(fields).length === 0) return null;
  return Object.entries(fields)
    .map(([name, value]) => `${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join('; ');
}

export function issueLine(issue: PresentedIssue): string {
  const assignee =
    issue.assignee === undefined
      ? null
      : issue.assignee
        ? `assignee ${issue.assignee}`
        : 'unassigned';
  const details = [
    assignee,
    issue.priority ? `priority ${issue.priority}` : null,
    issue.updated_at ? `updated ${issue.updated_at.slice(0, 10)}` : null,
    fieldsText(issue.fields),
  ]
    .filter((part) => part !== null)
    .join(', ');
  const status = issue.status === undefined ? '' : ` [${issue.status}]`;
  const title = issue.title === undefined ? '' : ` ${issue.title}`;
  return `• ${issue.id}${status}${title}${details ? ` — ${details}` : ''}  [${issue.connection_name}]`;
}

/** An issue narrowed with `fields`: the id, what was asked for, the URL. */
function selectedIssueText(issue: PresentedIssueDetail): string {
  const lines = [`${issue.id}${issue.title === undefined ? '' : ` — ${issue.title}`}`];
  const pairs: [string, string | null | undefined][] = [
    ['Status', issue.status],
    ['Type', issue.type],
    ['Priority', issue.priority],
    ['Assignee', issue.assignee],
    ['Reporter', issue.reporter],
    ['Project', issue.project_name],
    ['Created', issue.created_at],
    ['Updated', issue.updated_at],
  ];
  for (const [label, value] of pairs) {
    if (value !== undefined) lines.push(`${label}: ${value ?? '—'}`);
  }
  for (const [name, value] of Object.entries(issue.fields ?? {})) {
    lines.push(
      `${name}: ${value === null ? '—' : typeof value === 'string' ? value : JSON.stringify(value)}`,
    );
  }
  lines.push(`URL: ${issue.url}`);
  if (issue.description !== undefined) {
    lines.push('', 'Description:', issue.description === '' ? '(none)' : issue.description);
  }
  if (issue.comments !== undefined) {
    lines.push('', `Comments (${issue.comments.length}):`);
    for (const comment of issue.comments) {
      lines.push(`— ${comment.author ?? 'someone'}, ${comment.created_at ?? 'unknown date'}:`);
      lines.push(...comment.body.split('\n').map((line) => `  ${line}`));
    }
  }
  return lines.join('\n');
}

export function issueDetailText(issue: PresentedIssueDetail): string {
  if (
    issue.title === undefined ||
    issue.status === undefined ||
    issue.description === undefined ||
    issue.comments === undefined ||
    issue.fields !== undefined
  ) {
    return selectedIssueText(issue);
  }
  const lines = [
    `${issue.id} — ${issue.title}`,
    `Status: ${issue.status}${issue.is_closed ? ' (closed)' : ''} · Type: ${issue.type ?? '—'} · Priority: ${issue.priority ?? '—'}`,
    `Assignee: ${issue.assignee ?? 'unassigned'} · Reporter: ${issue.reporter ?? '—'}`,
    `Project: ${issue.project_name ?? '—'}${issue.project_id ? ` (${issue.project_id})` : ''}`,
    `Created: ${issue.created_at ?? '—'} · Updated: ${issue.updated_at ?? '—'}`,
    `URL: ${issue.url}`,
    `Connection: ${issue.connection_name} (${providerDisplayNames[issue.provider_type]})`,
    '',
    'Description:',
    issue.description === '' ? '(none)' : issue.description,
  ];
  if (issue.comments.length > 0) {
    const count = issue.comment_count ?? issue.comments.length;
    lines.push('', `Comments (latest ${issue.comments.length} of ${count}, oldest first):`);
    for (const comment of issue.comments) {
      lines.push(`— ${comment.author ?? 'someone'}, ${comment.created_at ?? 'unknown date'}:`);
      lines.push(...comment.body.split('\n').map((line) => `  ${line}`));
    }
  } else {
    lines.push('', 'No comments.');
  }
  return lines.join('\n');
}

export function failureLines(failures: readonly ConnectionFailure[]): string[] {
  if (failures.length === 0) return [];
  return [
    '',
    'Problems:',
    ...failures.map(
      (failure) =>
        `• ${failure.name} (${providerDisplayNames[failure.provider_type]}) — ${failure.error_code}: ${failure.message}`,
    ),
  ];
}
