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
  /**
   * Set when the caller asked for particular fields: the normalised names it asked for
   * (`standardIssueFields`); the other standard properties were not fetched and hold empty values.
   */
  selectedFields?: readonly StandardIssueField[] | undefined;
  /**
   * Provider fields asked for by name that are not standard ones (custom fields and the like),
   * keyed by their display name (Jira `Story Points`, not `customfield_10016`).
   */
  extraFields?: Readonly<Record<string, unknown>> | undefined;
}

/** The normalised issue properties a caller may select with `fields`. */
export const standardIssueFields = [
  'title',
  'status',
  'assignee',
  'priority',
  'type',
  'project',
  'updatedAt',
  'description',
  'reporter',
  'createdAt',
  'comments',
] as const;
export type StandardIssueField = (typeof standardIssueFields)[number];

/** Other spellings of the standard fields people (and models) use. */
const standardFieldAliases: Readonly<Record<string, StandardIssueField>> = {
  title: 'title',
  summary: 'title',
  subject: 'title',
  status: 'status',
  assignee: 'assignee',
  priority: 'priority',
  type: 'type',
  issuetype: 'type',
  'issue type': 'type',
  project: 'project',
  updatedat: 'updatedAt',
  updated: 'updatedAt',
  description: 'description',
  reporter: 'reporter',
  author: 'reporter',
  createdat: 'createdAt',
  created: 'createdAt',
  comments: 'comments',
  comment: 'comments',
};

/** A requested field name → the standard field it means, or undefined for a provider field. */
export function standardFieldOf(name: string): StandardIssueField | undefined {
  return standardFieldAliases[name.trim().toLowerCase()];
}

/** At most this many fields may be requested at once (a bound on request and result size). */
export const maxRequestedFields = 30;

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
  /** A release / version by name or id (Jira `fixVersion`, OpenProject `version`). */
  version?: string | undefined;
  /**
   * A sprint by name or id (Jira Software `sprint`; OpenProject's backlog sprints are versions,
   * so there it filters by version).
   */
  sprint?: string | undefined;
  /** The fields to return (standard names or provider field names); all standard ones when absent. */
  fields?: readonly string[] | undefined;
  /**
   * A restriction on top of everything else (a credential's project policy): only issues of these
   * projects (Jira project keys, OpenProject project ids), whatever `jql` or the filters say.
   */
  projectKeys?: readonly string[] | undefined;
  cursor?: string | undefined;
  limit: number;
}

export interface GetIssueOptions extends CallOptions {
  /** The fields to return (standard names or provider field names); the full detail when absent. */
  fields?: readonly string[] | undefined;
}

/** A person found by `findUsers`. */
export interface UserInfo {
  /** What the provider assigns by: Jira Cloud accountId, Jira Data Center name, OpenProject id. */
  id: string;
  displayName: string;
  /** Only when the provider shows it to this account. */
  email: string | null;
  /** Jira Data Center user name, OpenProject login; null where there is none (Jira Cloud). */
  login: string | null;
  active: boolean | null;
}

export interface FindUsersParams {
  /** A name, login or email (or the start of one). */
  query: string;
  cursor?: string | undefined;
  limit: number;
}

export interface LogWorkInput {
  /** Time spent, in seconds (at least 60). */
  timeSpentSeconds: number;
  /** Markdown. */
  comment?: string | undefined;
  /** `YYYY-MM-DD` or an ISO 8601 date-time; now when absent. */
  started?: string | undefined;
  /** OpenProject only: the time entry activity by name (the instance default when absent). */
  activity?: string | undefined;
}

export interface WorkLog {
  id: string;
  issueKey: string;
  timeSpentSeconds: number;
  /** The day the time was spent on, `YYYY-MM-DD`. */
  spentOn: string;
  comment: string;
  author: Person | null;
  activity: string | null;
}

export interface LinkIssuesInput {
  /** The issue the relation goes out from ("PROJ-1 blocks PROJ-2": PROJ-1). */
  fromKey: string;
  toKey: string;
  /**
   * The link type: Jira link type name or either of its descriptions ("Blocks", "blocks",
   * "is blocked by"); OpenProject relation type (relates, blocks, precedes, …).
   */
  type: string;
  /** Markdown; Jira adds it as a comment, OpenProject as the relation's description. */
  comment?: string | undefined;
}

export interface IssueLink {
  /** The provider's id for the link, when it gives one (Jira's create answers 201 without it). */
  id: string | null;
  /** How the relation reads from `fromKey`: "blocks", "relates to", "precedes". */
  description: string;
  /** The provider's type name ("Blocks", "blocks"). */
  type: string;
  fromKey: string;
  toKey: string;
}

export type VersionKind = 'version' | 'sprint';
export type VersionState =
  'open' | 'released' | 'archived' | 'active' | 'future' | 'closed' | 'locked';

export interface Version {
  id: string;
  name: string;
  kind: VersionKind;
  state: VersionState;
  description: string | null;
  startDate: string | null;
  /** Release date (versions) or end date (sprints). */
  endDate: string | null;
  /** Sprints only: the board the sprint belongs to. */
  board: string | null;
}

export interface ListVersionsParams {
  projectKey: string;
  cursor?: string | undefined;
  limit: number;
}

export interface VersionPage extends Page<Version> {
  /**
   * Whether sprints could be listed: false when the site has no Jira Software (the agile API
   * answers 404), no board of this project has sprints, or the provider has no sprints apart from
   * versions (OpenProject).
   */
  sprintsAvailable: boolean;
}

export interface ListMyIssuesParams {
  /** Only issues of these projects (see `SearchIssuesParams.projectKeys`). */
  projectKeys?: readonly string[] | undefined;
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
  getIssue(key: string, options?: GetIssueOptions): Promise<IssueDetail>;
  createIssue(input: CreateIssueInput, options?: CallOptions): Promise<IssueDetail>;
  updateIssue(key: string, input: UpdateIssueInput, options?: CallOptions): Promise<IssueDetail>;
  /**
   * Moves the issue to the status named `statusName` (case-insensitive). Returns the new status;
   * throws `UnknownStatusError` (a `ProviderValidationError`) listing the reachable statuses when
   * the name matches none.
   */
  transitionIssue(key: string, statusName: string, options?: CallOptions): Promise<Status>;
  addComment(key: string, markdown: string, options?: CallOptions): Promise<Comment>;
  /** People by name, login or email (to assign or mention). */
  findUsers(params: FindUsersParams, options?: CallOptions): Promise<Page<UserInfo>>;
  /** Records time spent on an issue. */
  logWork(key: string, input: LogWorkInput, options?: CallOptions): Promise<WorkLog>;
  /**
   * Relates two issues by a link type named as the provider names it; throws
   * `ProviderValidationError` listing the available types when the name matches none.
   */
  linkIssues(input: LinkIssuesInput, options?: CallOptions): Promise<IssueLink>;
  /** A project's releases / versions, and its sprints where the provider has them. */
  listVersions(params: ListVersionsParams, options?: CallOptions): Promise<VersionPage>;
}

/** How many recent comments `getIssue` returns. */
export const recentCommentLimit = 5;
