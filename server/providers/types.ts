/**
 * The normalised shapes every provider client returns, and the `ProviderClient` interface the PM
 * tools program against. Jira Cloud, Jira Data Center and OpenProject each implement it in their
 * own folder; nothing outside `server/providers/` knows which API is behind a client.
 */

export type ProviderType = 'jira' | 'jira_server' | 'openproject';

export const providerTypes = ['jira', 'jira_server', 'openproject'] as const;

export const providerDisplayNames: Readonly<Record<ProviderType, string>> = {
  jira: 'Jira Cloud',
  jira_server: 'Jira Data Center',
  openproject: 'OpenProject',
};

/** The account a credential belongs to (what `checkCredentials` proves). */
export interface Account {
  /** Jira Cloud accountId, Jira Data Center user name, OpenProject user id. */
  id: string;
  displayName: string;
  email: string | null;
}

export interface Person {
  id: string;
  displayName: string;
}

export interface Project {
  /**
   * The key used to address the project: Jira project key; OpenProject project id (its
   * identifier, e.g. `office-move`, is accepted too wherever a project key is taken).
   */
  key: string;
  name: string;
  /** The provider's own id. */
  providerId: string;
  description: string | null;
  url: string | null;
}

/** Where a status sits in the workflow, as far as "open" and "closed" are concerned. */
export type StatusCategory = 'todo' | 'in_progress' | 'done' | 'unknown';

export interface Status {
  name: string;
  category: StatusCategory;
  /** True when the provider counts this status as closed / done. */
  isClosed: boolean;
}

export interface ProjectRef {
  key: string;
  name: string | null;
}

export interface IssueSummary {
  /** Jira issue key (`PROJ-12`), OpenProject work package id (`42`). */
  key: string;
  title: string;
  status: Status;
  assignee: Person | null;
  priority: string | null;
  type: string | null;
  project: ProjectRef | null;
  updatedAt: string | null;
  /** Where a person opens it in a browser. */
  url: string;
}

export interface Comment {
  id: string;
  author: Person | null;
  /** Markdown (Jira Cloud ADF converted, OpenProject markdown) or Data Center's plain/wiki text. */
  body: string;
  createdAt: string | null;
}

export interface IssueDetail extends IssueSummary {
  /** Markdown or text; empty string when there is none. */
  description: string;
  reporter: Person | null;
  createdAt: string | null;
  /** The most recent comments, oldest first (at most `recentCommentLimit`). */
  comments: Comment[];
  /** How many comments the issue has in all, when the provider says. */
  commentCount: number | null;
}

export interface Transition {
  id: string;
  name: string;
  to: Status;
}

/** One page of a list. `nextCursor` is opaque and belongs to the client that produced it. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  /** The provider's total, when it reports one (Jira Cloud's search does not). */
  total: number | null;
}

/** Per-call options every operation accepts; the tools use `signal` for the per-provider timeout. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

export interface ListProjectsParams {
  query?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

export interface SearchIssuesParams {
  text?: string | undefined;
  projectKey?: string | undefined;
  /** `open`, `closed`, or a status name. */
  status?: string | undefined;
  /** `me` or a person's name / login. */
  assignee?: string | undefined;
  /** Jira only: a JQL query, ANDed with the other filters. */
  jql?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

export interface ListMyIssuesParams {
  cursor?: string | undefined;
  limit: number;
}

export interface CreateIssueInput {
  projectKey: string;
  title: string;
  /** Markdown. */
  description?: string | undefined;
  /** Issue / work package type name; the provider's default (Jira: `Task`) when absent. */
  type?: string | undefined;
  /** `me` or a person's name / login. */
  assignee?: string | undefined;
  priority?: string | undefined;
}

export interface UpdateIssueInput {
  title?: string | undefined;
  /** Markdown. */
  description?: string | undefined;
  /** `me`, a person's name / login, or `null` to unassign. */
  assignee?: string | null | undefined;
  priority?: string | undefined;
}

export interface ProviderClient {
  readonly providerType: ProviderType;
  /** Proves the credential works; the account it belongs to. */
  checkCredentials(options?: CallOptions): Promise<Account>;
  listProjects(params: ListProjectsParams, options?: CallOptions): Promise<Page<Project>>;
  searchIssues(params: SearchIssuesParams, options?: CallOptions): Promise<Page<IssueSummary>>;
  /** Open issues assigned to the credential's account, most recently updated first. */
  listMyIssues(params: ListMyIssuesParams, options?: CallOptions): Promise<Page<IssueSummary>>;
  getIssue(key: string, options?: CallOptions): Promise<IssueDetail>;
  createIssue(input: CreateIssueInput, options?: CallOptions): Promise<IssueDetail>;
  updateIssue(key: string, input: UpdateIssueInput, options?: CallOptions): Promise<IssueDetail>;
  /**
   * Moves the issue to the status named `statusName` (case-insensitive). Returns the new status;
   * throws `UnknownStatusError` (a `ProviderValidationError`) listing the reachable statuses when
   * the name matches none.
   */
  transitionIssue(key: string, statusName: string, options?: CallOptions): Promise<Status>;
  addComment(key: string, markdown: string, options?: CallOptions): Promise<Comment>;
}

/** How many recent comments `getIssue` returns. */
export const recentCommentLimit = 5;
