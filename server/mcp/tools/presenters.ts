/**
 * Turns provider results into what a tool returns: snake_case structured content and readable
 * text, with `"<connection id>:<key>"` ids, the connection each item came from, and long text cut
 * with a visible marker. Nothing from a connection but its id, name and type is ever shown here.
 */
import {
  providerDisplayNames,
  type Comment,
  type IssueDetail,
  type IssueSummary,
  type Person,
  type Project,
  type Status,
} from '../../providers/index.js';
import {
  maxCommentChars,
  maxDescriptionChars,
  maxProjectDescriptionChars,
  type ToolConnection,
} from './context.js';
import type { ConnectionFailure } from './failures.js';
import { toolId } from './ids.js';

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

export function presentProject(connection: ToolConnection, project: Project) {
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
export type PresentedProject = ReturnType<typeof presentProject>;

export function presentIssueSummary(connection: ToolConnection, issue: IssueSummary) {
  return {
    id: toolId(connection.id, issue.key),
    key: issue.key,
    title: issue.title,
    ...presentStatus(issue.status),
    assignee: personName(issue.assignee),
    priority: issue.priority,
    type: issue.type,
    project_id: issue.project ? toolId(connection.id, issue.project.key) : null,
    project_name: issue.project?.name ?? null,
    updated_at: isoDate(issue.updatedAt),
    url: issue.url,
    ...source(connection),
  };
}
export type PresentedIssue = ReturnType<typeof presentIssueSummary>;

export function presentComment(comment: Comment, url?: string) {
  const body = truncate(comment.body, maxCommentChars, url);
  return {
    id: comment.id,
    author: personName(comment.author),
    body: body.text,
    body_truncated: body.truncated,
    created_at: isoDate(comment.createdAt),
  };
}

export function presentIssueDetail(connection: ToolConnection, issue: IssueDetail) {
  const description = truncate(issue.description, maxDescriptionChars, issue.url);
  return {
    ...presentIssueSummary(connection, issue),
    description: description.text,
    description_truncated: description.truncated,
    reporter: personName(issue.reporter),
    created_at: isoDate(issue.createdAt),
    comment_count: issue.commentCount,
    comments: issue.comments.map((comment) => presentComment(comment, issue.url)),
  };
}
export type PresentedIssueDetail = ReturnType<typeof presentIssueDetail>;

// ---- text ---------------------------------------------------------------------------------------

export function connectionLabel(connection: Pick<ToolConnection, 'name' | 'providerType'>): string {
  return `${connection.name} · ${providerDisplayNames[connection.providerType]}`;
}

export function projectLine(project: PresentedProject): string {
  return `• ${project.id} — ${project.name}  [${project.connection_name}]`;
}

export function issueLine(issue: PresentedIssue): string {
  const details = [
    issue.assignee ? `assignee ${issue.assignee}` : 'unassigned',
    issue.priority ? `priority ${issue.priority}` : null,
    issue.updated_at ? `updated ${issue.updated_at.slice(0, 10)}` : null,
  ]
    .filter((part) => part !== null)
    .join(', ');
  return `• ${issue.id} [${issue.status}] ${issue.title} — ${details}  [${issue.connection_name}]`;
}

export function issueDetailText(issue: PresentedIssueDetail): string {
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
