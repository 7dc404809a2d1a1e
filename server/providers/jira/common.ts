/**
 * What Jira Cloud (REST v3) and Jira Data Center (REST v2) really share: the issue, transition and
 * comment endpoints, their JSON shapes, JQL, and the workflow of each operation. What differs —
 * the API prefix, rich text (ADF vs plain string), how a user is named (accountId vs name), search
 * pagination (`nextPageToken` vs `startAt`/`total`) and project listing — is a `JiraFlavour`.
 */
import { z } from 'zod';
import {
  ProviderNotFoundError,
  ProviderResponseError,
  ProviderValidationError,
  UnknownStatusError,
} from '../errors.js';
import { readableFieldValue, splitRequestedFields, type RequestedFields } from '../fields.js';
import { segment, type ProviderHttp } from '../http.js';
import { assertTimeSpent, jiraStarted } from '../time.js';
import {
  recentCommentLimit,
  type Account,
  type CallOptions,
  type Comment,
  type CreateIssueInput,
  type FindUsersParams,
  type GetIssueOptions,
  type IssueDetail,
  type IssueLink,
  type IssueSummary,
  type LinkIssuesInput,
  type ListMyIssuesParams,
  type ListProjectsParams,
  type ListVersionsParams,
  type LogWorkInput,
  type Page,
  type Person,
  type Project,
  type ProviderClient,
  type SearchIssuesParams,
  type StandardIssueField,
  type Status,
  type StatusCategory,
  type UpdateIssueInput,
  type UserInfo,
  type Version,
  type VersionPage,
  type WorkLog,
} from '../types.js';

export const jiraUserSchema = z.object({
  accountId: z.string().optional(),
  accountType: z.string().optional(),
  name: z.string().optional(),
  key: z.string().optional(),
  displayName: z.string().optional(),
  emailAddress: z.string().optional(),
  active: z.boolean().optional(),
});
export type JiraUser = z.infer<typeof jiraUserSchema>;

const statusSchema = z.object({
  name: z.string(),
  statusCategory: z.object({ key: z.string() }).optional(),
});

export const jiraCommentSchema = z.object({
  id: z.string(),
  author: jiraUserSchema.nullish(),
  body: z.unknown().optional(),
  created: z.string().optional(),
});

const namedSchema = z.object({ name: z.string() });

const issueFieldsSchema = z
  .object({
    summary: z.string().optional(),
    status: statusSchema.optional(),
    assignee: jiraUserSchema.nullish(),
    reporter: jiraUserSchema.nullish(),
    priority: namedSchema.nullish(),
    issuetype: namedSchema.nullish(),
    project: z.object({ key: z.string(), name: z.string().optional() }).nullish(),
    created: z.string().nullish(),
    updated: z.string().nullish(),
    description: z.unknown().optional(),
    comment: z
      .object({ comments: z.array(jiraCommentSchema), total: z.number().optional() })
      .nullish(),
    // Other fields (custom ones) are kept for `fields` selections.
  })
  .catchall(z.unknown());

export const jiraIssueSchema = z.object({
  id: z.string(),
  key: z.string(),
  fields: issueFieldsSchema,
});
export type JiraIssue = z.infer<typeof jiraIssueSchema>;

const transitionsSchema = z.object({
  transitions: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      to: statusSchema,
      isAvailable: z.boolean().optional(),
    }),
  ),
});

const createdIssueSchema = z.object({ id: z.string(), key: z.string() });

export const jiraProjectSchema = z.object({
  id: z.string(),
  key: z.string(),
  name: z.string(),
  description: z.string().nullish(),
});

/** Fields fetched for a list row; `getIssue` adds description, reporter, created and comments. */
export const summaryFields = 'summary,status,assignee,priority,issuetype,project,updated';
const detailFields = `${summaryFields},description,reporter,created,comment`;

/** The Jira field behind each standard field. */
const jiraFieldOf: Readonly<Record<StandardIssueField, string>> = {
  title: 'summary',
  status: 'status',
  assignee: 'assignee',
  priority: 'priority',
  type: 'issuetype',
  project: 'project',
  updatedAt: 'updated',
  description: 'description',
  reporter: 'reporter',
  createdAt: 'created',
  comments: 'comment',
};

const jiraFieldListSchema = z.array(
  z.object({ id: z.string(), name: z.string(), custom: z.boolean().optional() }),
);
type JiraFieldList = z.infer<typeof jiraFieldListSchema>;

/** A `fields` request resolved against `GET /field`: what to ask Jira for and how to name it. */
interface ResolvedFields {
  standard: StandardIssueField[];
  /** Jira field id → display name. */
  extra: Map<string, string>;
  /** The `fields=` parameter. */
  query: string;
}

const worklogSchema = z.object({
  id: z.string(),
  timeSpentSeconds: z.number(),
  started: z.string(),
  comment: z.unknown().optional(),
  author: jiraUserSchema.nullish(),
});

const issueLinkTypesSchema = z.object({
  issueLinkTypes: z.array(
    z.object({ id: z.string(), name: z.string(), inward: z.string(), outward: z.string() }),
  ),
});

const jiraVersionSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullish(),
  archived: z.boolean().optional(),
  released: z.boolean().optional(),
  startDate: z.string().nullish(),
  releaseDate: z.string().nullish(),
});

const boardPageSchema = z.object({
  startAt: z.number().optional(),
  isLast: z.boolean().optional(),
  values: z.array(z.object({ id: z.number(), name: z.string(), type: z.string().optional() })),
});

const sprintPageSchema = z.object({
  startAt: z.number().optional(),
  isLast: z.boolean().optional(),
  values: z.array(
    z.object({
      id: z.number(),
      name: z.string(),
      state: z.string(),
      goal: z.string().nullish(),
      startDate: z.string().nullish(),
      endDate: z.string().nullish(),
    }),
  ),
});

/** The agile API (Jira Software) is the same on Cloud and Data Center. */
const agilePrefix = '/rest/agile/1.0';
/** Bounds on what `listVersions` reads from the agile API (boards, sprint pages per board). */
const maxBoards = 50;
const maxSprintPagesPerBoard = 10;
const sprintPageSize = 50;

/** Largest page we ask `/user/search` for. */
const maxUserPage = 100;

/** The parts that differ between Jira Cloud and Jira Data Center. */
export interface JiraFlavour {
  readonly providerType: 'jira' | 'jira_server';
  /** `/rest/api/3` or `/rest/api/2`. */
  readonly apiPrefix: string;
  /** Markdown → what the API takes for description and comment bodies. */
  richTextIn(markdown: string): unknown;
  /** What the API sends for description and comment bodies → markdown / text. */
  richTextOut(value: unknown): string;
  /** The identifier JQL and issue bodies use for a user (accountId / name). */
  userId(user: JiraUser): string | undefined;
  /** How an issue body names a user: `{accountId}` / `{name}`. */
  userRef(id: string): Record<string, string>;
  /** The `/user/search` query parameter: `query` (Cloud) / `username` (Data Center). */
  readonly userSearchParam: string;
  /** One page of issues for a JQL query. */
  searchPage(
    http: ProviderHttp,
    request: { jql: string; fields: string; cursor: string | undefined; limit: number },
    options: CallOptions,
  ): Promise<Page<JiraIssue>>;
  listProjects(
    http: ProviderHttp,
    params: ListProjectsParams,
    options: CallOptions,
  ): Promise<Page<Project>>;
}

export function categoryOf(key: string | undefined): StatusCategory {
  switch (key) {
    case 'new':
      return 'todo';
    case 'indeterminate':
      return 'in_progress';
    case 'done':
      return 'done';
    default:
      return 'unknown';
  }
}

function toStatus(status: z.infer<typeof statusSchema> | undefined): Status {
  if (!status) return { name: 'Unknown', category: 'unknown', isClosed: false };
  const category = categoryOf(status.statusCategory?.key);
  return { name: status.name, category, isClosed: category === 'done' };
}

/** A JQL string literal. */
export function jqlString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const issueKeyPattern = /^(?:[A-Za-z][A-Za-z0-9_]*-\d+|\d+)$/;
const projectKeyPattern = /^(?:[A-Za-z][A-Za-z0-9_]*|\d+)$/;

export function assertIssueKey(key: string): string {
  if (!issueKeyPattern.test(key)) {
    throw new ProviderValidationError(`"${key}" is not a Jira issue key (like PROJ-12).`);
  }
  return key.toUpperCase();
}

export function assertProjectKey(key: string): string {
  if (!projectKeyPattern.test(key)) {
    throw new ProviderValidationError(`"${key}" is not a Jira project key (like PROJ).`);
  }
  return key.toUpperCase();
}

function sprintState(state: string): Version['state'] {
  const lower = state.toLowerCase();
  return lower === 'active' || lower === 'future' ? lower : 'closed';
}

/** Current work first: active sprints, future sprints, open versions, then the past. */
export function versionRank(version: Version): number {
  return ['active', 'future', 'open', 'locked', 'closed', 'released', 'archived'].indexOf(
    version.state,
  );
}

/** Parses a numeric `startAt` cursor this client produced. */
export function startAtFrom(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  if (!/^\d{1,9}$/.test(cursor)) throw new ProviderValidationError('The page cursor is not valid.');
  return Number(cursor);
}

export interface JqlFilters {
  /** A restriction ANDed onto the whole query, the caller's JQL included (a project policy). */
  projectKeys?: readonly string[] | undefined;
  text?: string | undefined;
  projectKey?: string | undefined;
  status?: string | undefined;
  /** Already resolved: `currentUser()` or a quoted user id. */
  assigneeClause?: string | undefined;
  jql?: string | undefined;
  version?: string | undefined;
  sprint?: string | undefined;
}

/**
 * Builds the JQL for a search. The caller's own JQL is ANDed with the other filters and keeps its
 * ORDER BY. Jira Cloud refuses unbounded queries, so with no filter at all the search is bounded to
 * issues updated in the last year.
 */
export function buildJql(filters: JqlFilters, options: { requireBounded: boolean }): string {
  const clauses: string[] = [];
  let orderBy = 'ORDER BY updated DESC';
  if (filters.projectKeys !== undefined) clauses.push(projectInClause(filters.projectKeys));
  if (filters.jql?.trim()) {
    const match = /^(.*?)\s*\bORDER\s+BY\b(.*)$/is.exec(filters.jql.trim());
    const where = (match ? match[1] : filters.jql)?.trim() ?? '';
    if (match) orderBy = `ORDER BY ${match[2]?.trim() ?? ''}`;
    if (where) {
      // Under a restriction the caller's JQL must be one closed group, or a crafted `x) OR (y`
      // would escape the AND.
      if (filters.projectKeys !== undefined) assertSelfContainedJql(where);
      clauses.push(`(${where})`);
    }
  }
  if (filters.projectKey) clauses.push(`project = ${jqlString(filters.projectKey)}`);
  if (filters.text?.trim()) clauses.push(`text ~ ${jqlString(filters.text.trim())}`);
  const status = filters.status?.trim();
  if (status) {
    if (status.toLowerCase() === 'open') clauses.push('statusCategory != Done');
    else if (status.toLowerCase() === 'closed') clauses.push('statusCategory = Done');
    else clauses.push(`status = ${jqlString(status)}`);
  }
  if (filters.assigneeClause) clauses.push(`assignee ${filters.assigneeClause}`);
  // Numbers are ids (unquoted); anything else is a name (quoted).
  const version = filters.version?.trim();
  if (version) clauses.push(`fixVersion = ${/^\d+$/.test(version) ? version : jqlString(version)}`);
  const sprint = filters.sprint?.trim();
  if (sprint) clauses.push(`sprint = ${/^\d+$/.test(sprint) ? sprint : jqlString(sprint)}`);
  if (clauses.length === 0 && options.requireBounded) clauses.push('updated >= -365d');
  return `${clauses.join(' AND ')} ${orderBy}`.trim();
}

export const myOpenIssuesJql =
  'assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC';

/** `project in ("A", "B")`; no key at all matches nothing (`project in ()` is not JQL). */
export function projectInClause(keys: readonly string[]): string {
  if (keys.length === 0) return 'issuekey is EMPTY';
  return `project in (${keys.map((key) => jqlString(assertProjectKey(key))).join(', ')})`;
}

/**
 * Refuses JQL whose parentheses do not balance outside its string literals (or whose string never
 * ends): such text could close the group it is put in.
 */
export function assertSelfContainedJql(jql: string): void {
  let depth = 0;
  let quote: string | null = null;
  for (let index = 0; index < jql.length; index++) {
    const char = jql[index];
    if (quote !== null) {
      if (char === '\\') index++;
      else if (char === quote) quote = null;
      continue;
    }
    if (char === '"' || char === "'") quote = char;
    else if (char === '(') depth++;
    else if (char === ')' && --depth < 0) break;
  }
  if (depth !== 0 || quote !== null) {
    throw new ProviderValidationError(
      'The jql has unbalanced parentheses or an unterminated string; fix the query.',
    );
  }
}

export interface JiraClientConfig {
  http: ProviderHttp;
  flavour: JiraFlavour;
}

/** One Jira client; the flavour makes it Cloud or Data Center. */
export class JiraClient implements ProviderClient {
  readonly providerType: 'jira' | 'jira_server';
  readonly #http: ProviderHttp;
  readonly #flavour: JiraFlavour;
  #myself: Promise<JiraUser> | undefined;
  #fieldList: Promise<JiraFieldList> | undefined;

  constructor({ http, flavour }: JiraClientConfig) {
    this.providerType = flavour.providerType;
    this.#http = http;
    this.#flavour = flavour;
  }

  get #prefix(): string {
    return this.#flavour.apiPrefix;
  }

  async checkCredentials(options: CallOptions = {}): Promise<Account> {
    const user = await this.#fetchMyself(options);
    const id = this.#flavour.userId(user) ?? user.key;
    // Any JSON object fits the lenient user schema; a check only passes when Jira names the user.
    if (!id) {
      throw new ProviderResponseError(
        `${this.#http.label} answered GET ${this.#prefix}/myself without naming the user. Check the base URL.`,
      );
    }
    return {
      id,
      displayName: user.displayName ?? id,
      email: user.emailAddress ?? null,
    };
  }

  listProjects(params: ListProjectsParams, options: CallOptions = {}): Promise<Page<Project>> {
    return this.#flavour.listProjects(this.#http, params, options);
  }

  async searchIssues(
    params: SearchIssuesParams,
    options: CallOptions = {},
  ): Promise<Page<IssueSummary>> {
    const assignee = params.assignee?.trim();
    let assigneeClause: string | undefined;
    if (assignee) {
      if (assignee.toLowerCase() === 'me') assigneeClause = '= currentUser()';
      else if (['none', 'unassigned'].includes(assignee.toLowerCase())) assigneeClause = 'is EMPTY';
      else assigneeClause = `= ${jqlString(await this.#resolveUserId(assignee, options))}`;
    }
    const jql = buildJql(
      {
        projectKeys: params.projectKeys,
        text: params.text,
        projectKey:
          params.projectKey === undefined ? undefined : assertProjectKey(params.projectKey),
        status: params.status,
        assigneeClause,
        jql: params.jql,
        version: params.version,
        sprint: params.sprint,
      },
      { requireBounded: this.providerType === 'jira' },
    );
    const selection = await this.#resolveFields(splitRequestedFields(params.fields), options);
    return this.#search(jql, params.cursor, params.limit, options, selection);
  }

  listMyIssues(params: ListMyIssuesParams, options: CallOptions = {}): Promise<Page<IssueSummary>> {
    const jql =
      params.projectKeys === undefined
        ? myOpenIssuesJql
        : `${projectInClause(params.projectKeys)} AND ${myOpenIssuesJql}`;
    return this.#search(jql, params.cursor, params.limit, options);
  }

  async getIssue(key: string, options: GetIssueOptions = {}): Promise<IssueDetail> {
    const issueKey = assertIssueKey(key);
    const selection = await this.#resolveFields(splitRequestedFields(options.fields), options);
    const issue = await this.#http.request({
      method: 'GET',
      path: `${this.#prefix}/issue/${segment(issueKey)}`,
      query: { fields: selection?.query ?? detailFields },
      schema: jiraIssueSchema,
      signal: options.signal,
    });
    return this.#select(this.#detail(issue), issue, selection);
  }

  async createIssue(input: CreateIssueInput, options: CallOptions = {}): Promise<IssueDetail> {
    const fields: Record<string, unknown> = {
      project: { key: assertProjectKey(input.projectKey) },
      summary: input.title,
      issuetype: { name: input.type?.trim() || 'Task' },
    };
    if (input.description !== undefined && input.description !== '') {
      fields.description = this.#flavour.richTextIn(input.description);
    }
    if (input.assignee?.trim())
      fields.assignee = await this.#assigneeField(input.assignee, options);
    if (input.priority?.trim()) fields.priority = { name: input.priority.trim() };
    const created = await this.#http.request({
      method: 'POST',
      path: `${this.#prefix}/issue`,
      body: { fields },
      schema: createdIssueSchema,
      signal: options.signal,
    });
    return this.getIssue(created.key, options);
  }

  async updateIssue(
    key: string,
    input: UpdateIssueInput,
    options: CallOptions = {},
  ): Promise<IssueDetail> {
    const issueKey = assertIssueKey(key);
    const fields: Record<string, unknown> = {};
    if (input.title !== undefined) fields.summary = input.title;
    if (input.description !== undefined) {
      fields.description =
        input.description === '' ? null : this.#flavour.richTextIn(input.description);
    }
    if (input.assignee === null) fields.assignee = null;
    else if (input.assignee?.trim())
      fields.assignee = await this.#assigneeField(input.assignee, options);
    if (input.priority?.trim()) fields.priority = { name: input.priority.trim() };
    if (Object.keys(fields).length > 0) {
      await this.#http.request({
        method: 'PUT',
        path: `${this.#prefix}/issue/${segment(issueKey)}`,
        body: { fields },
        signal: options.signal,
      });
    }
    return this.getIssue(issueKey, options);
  }

  async transitionIssue(
    key: string,
    statusName: string,
    options: CallOptions = {},
  ): Promise<Status> {
    const issueKey = assertIssueKey(key);
    const wanted = statusName.trim().toLowerCase();
    const current = await this.#currentStatus(issueKey, options);
    if (current.name.toLowerCase() === wanted) return current;
    const { transitions } = await this.#http.request({
      method: 'GET',
      path: `${this.#prefix}/issue/${segment(issueKey)}/transitions`,
      schema: transitionsSchema,
      signal: options.signal,
    });
    const available = transitions.filter((transition) => transition.isAvailable !== false);
    const transition =
      available.find((candidate) => candidate.to.name.toLowerCase() === wanted) ??
      available.find((candidate) => candidate.name.toLowerCase() === wanted);
    if (!transition) {
      const reachable = [...new Set(available.map((candidate) => candidate.to.name))];
      throw new UnknownStatusError(statusName, reachable, current.name);
    }
    await this.#http.request({
      method: 'POST',
      path: `${this.#prefix}/issue/${segment(issueKey)}/transitions`,
      body: { transition: { id: transition.id } },
      signal: options.signal,
    });
    return this.#currentStatus(issueKey, options);
  }

  async addComment(key: string, markdown: string, options: CallOptions = {}): Promise<Comment> {
    const comment = await this.#http.request({
      method: 'POST',
      path: `${this.#prefix}/issue/${segment(assertIssueKey(key))}/comment`,
      body: { body: this.#flavour.richTextIn(markdown) },
      schema: jiraCommentSchema,
      signal: options.signal,
    });
    return this.#comment(comment);
  }

  async findUsers(
    { query, cursor, limit }: FindUsersParams,
    options: CallOptions = {},
  ): Promise<Page<UserInfo>> {
    const needle = query.trim();
    if (!needle) {
      throw new ProviderValidationError('Give a name, login or email to search for.', {
        fieldErrors: { query: 'required' },
      });
    }
    const startAt = startAtFrom(cursor);
    const maxResults = Math.min(Math.max(1, limit), maxUserPage);
    const users = await this.#http.request({
      method: 'GET',
      path: `${this.#prefix}/user/search`,
      query: { [this.#flavour.userSearchParam]: needle, startAt, maxResults },
      schema: z.array(jiraUserSchema),
      signal: options.signal,
    });
    // Jira gives no total: a full page means there may be more.
    const nextCursor = users.length >= maxResults ? String(startAt + users.length) : null;
    const items = users
      // Cloud lists apps (bots) beside people; they cannot be assigned or mentioned usefully.
      .filter((user) => user.accountType !== 'app')
      .flatMap((user): UserInfo[] => {
        const id = this.#flavour.userId(user);
        if (!id) return [];
        return [
          {
            id,
            displayName: user.displayName ?? id,
            email: user.emailAddress ?? null,
            login: this.providerType === 'jira_server' ? (user.name ?? null) : null,
            active: user.active ?? null,
          },
        ];
      });
    return { items, nextCursor, total: null };
  }

  async logWork(key: string, input: LogWorkInput, options: CallOptions = {}): Promise<WorkLog> {
    const issueKey = assertIssueKey(key);
    assertTimeSpent(input.timeSpentSeconds);
    const body: Record<string, unknown> = {
      timeSpentSeconds: Math.round(input.timeSpentSeconds),
      started: jiraStarted(input.started),
    };
    if (input.comment?.trim()) body.comment = this.#flavour.richTextIn(input.comment);
    const worklog = await this.#http.request({
      method: 'POST',
      path: `${this.#prefix}/issue/${segment(issueKey)}/worklog`,
      body,
      schema: worklogSchema,
      signal: options.signal,
    });
    return {
      id: worklog.id,
      issueKey,
      timeSpentSeconds: worklog.timeSpentSeconds,
      spentOn: worklog.started.slice(0, 10),
      comment: worklog.comment === undefined ? '' : this.#flavour.richTextOut(worklog.comment),
      author: this.#person(worklog.author),
      activity: null,
    };
  }

  async linkIssues(input: LinkIssuesInput, options: CallOptions = {}): Promise<IssueLink> {
    const fromKey = assertIssueKey(input.fromKey);
    const toKey = assertIssueKey(input.toKey);
    const { issueLinkTypes } = await this.#http.request({
      method: 'GET',
      path: `${this.#prefix}/issueLinkType`,
      schema: issueLinkTypesSchema,
      signal: options.signal,
    });
    const wanted = input.type.trim().toLowerCase();
    const byOutward = issueLinkTypes.find(
      (type) => type.name.toLowerCase() === wanted || type.outward.toLowerCase() === wanted,
    );
    const byInward = byOutward
      ? undefined
      : issueLinkTypes.find((type) => type.inward.toLowerCase() === wanted);
    const linkType = byOutward ?? byInward;
    if (!linkType) {
      const available = issueLinkTypes
        .map((type) => `${type.name} (${type.outward} / ${type.inward})`)
        .join(', ');
      throw new ProviderValidationError(
        `Jira has no issue link type "${input.type.trim()}". Link types: ${available || 'none'}.`,
        { fieldErrors: { type: 'unknown link type' } },
      );
    }
    // The outward issue reads with the outward description ("A blocks B": A is outward). Named by
    // its inward description ("A is blocked by B"), the link is the same one the other way round.
    const [outward, inward] = byInward ? [toKey, fromKey] : [fromKey, toKey];
    const body: Record<string, unknown> = {
      type: { name: linkType.name },
      outwardIssue: { key: outward },
      inwardIssue: { key: inward },
    };
    if (input.comment?.trim()) body.comment = { body: this.#flavour.richTextIn(input.comment) };
    await this.#http.request({
      method: 'POST',
      path: `${this.#prefix}/issueLink`,
      body,
      signal: options.signal,
    });
    return {
      id: null,
      description: byInward ? linkType.inward : linkType.outward,
      type: linkType.name,
      fromKey,
      toKey,
    };
  }

  async listVersions(
    { projectKey, cursor, limit }: ListVersionsParams,
    options: CallOptions = {},
  ): Promise<VersionPage> {
    const key = assertProjectKey(projectKey);
    const startAt = startAtFrom(cursor);
    // Both halves run at once; when one fails the other is cancelled rather than left retrying.
    const sibling = new AbortController();
    const signal = options.signal
      ? AbortSignal.any([options.signal, sibling.signal])
      : sibling.signal;
    const [versions, sprints] = await Promise.all([
      this.#http.request({
        method: 'GET',
        path: `${this.#prefix}/project/${segment(key)}/versions`,
        schema: z.array(jiraVersionSchema),
        signal,
      }),
      this.#sprintsOf(key, { signal }),
    ]).catch((error: unknown) => {
      sibling.abort(error);
      throw error;
    });
    const all: Version[] = [
      ...versions.map((version): Version => ({
        id: version.id,
        name: version.name,
        kind: 'version',
        state: version.archived ? 'archived' : version.released ? 'released' : 'open',
        description: version.description || null,
        startDate: version.startDate ?? null,
        endDate: version.releaseDate ?? null,
        board: null,
      })),
      ...(sprints ?? []),
    ].sort((a, b) => versionRank(a) - versionRank(b));
    const items = all.slice(startAt, startAt + limit);
    const next = startAt + items.length;
    return {
      items,
      nextCursor: items.length > 0 && next < all.length ? String(next) : null,
      total: all.length,
      sprintsAvailable: sprints !== undefined && sprints.length > 0,
    };
  }

  /**
   * The sprints of the project's scrum boards, or undefined when the site has no Jira Software
   * (the agile API answers 404). Kanban boards have no sprints and are not asked.
   */
  async #sprintsOf(projectKey: string, options: CallOptions): Promise<Version[] | undefined> {
    let boards: z.infer<typeof boardPageSchema>['values'];
    try {
      ({ values: boards } = await this.#http.request({
        method: 'GET',
        path: `${agilePrefix}/board`,
        query: { projectKeyOrId: projectKey, maxResults: maxBoards },
        schema: boardPageSchema,
        signal: options.signal,
      }));
    } catch (error) {
      if (error instanceof ProviderNotFoundError) return undefined;
      throw error;
    }
    const sprints = new Map<number, Version>();
    for (const board of boards.filter((candidate) => candidate.type !== 'kanban')) {
      for (let page = 0, startAt = 0; page < maxSprintPagesPerBoard; page++) {
        let result: z.infer<typeof sprintPageSchema>;
        try {
          result = await this.#http.request({
            method: 'GET',
            path: `${agilePrefix}/board/${board.id}/sprint`,
            query: { startAt, maxResults: sprintPageSize },
            schema: sprintPageSchema,
            signal: options.signal,
          });
        } catch (error) {
          // "The board does not support sprints" (400): a board without the sprint feature.
          if (error instanceof ProviderValidationError) break;
          throw error;
        }
        for (const sprint of result.values) {
          if (sprints.has(sprint.id)) continue;
          sprints.set(sprint.id, {
            id: String(sprint.id),
            name: sprint.name,
            kind: 'sprint',
            state: sprintState(sprint.state),
            description: sprint.goal || null,
            startDate: sprint.startDate ?? null,
            endDate: sprint.endDate ?? null,
            board: board.name,
          });
        }
        startAt += result.values.length;
        if (result.isLast !== false || result.values.length === 0) break;
      }
    }
    return [...sprints.values()];
  }

  async #search(
    jql: string,
    cursor: string | undefined,
    limit: number,
    options: CallOptions,
    selection?: ResolvedFields,
  ): Promise<Page<IssueSummary>> {
    const page = await this.#flavour.searchPage(
      this.#http,
      { jql, fields: selection?.query ?? summaryFields, cursor, limit },
      options,
    );
    return {
      ...page,
      items: page.items.map((issue) => this.#select(this.#summary(issue), issue, selection)),
    };
  }

  /** Resolves provider field names against `GET /field` (cached); undefined for no selection. */
  async #resolveFields(
    requested: RequestedFields | undefined,
    options: CallOptions,
  ): Promise<ResolvedFields | undefined> {
    if (!requested) return undefined;
    const extra = new Map<string, string>();
    if (requested.extra.length > 0) {
      const fields = await this.#fields(options);
      for (const name of requested.extra) {
        const lower = name.toLowerCase();
        const field =
          fields.find((candidate) => candidate.id.toLowerCase() === lower) ??
          fields.find((candidate) => candidate.name.toLowerCase() === lower);
        if (!field) {
          const custom = fields
            .filter((candidate) => candidate.custom)
            .map((candidate) => candidate.name)
            .slice(0, 30);
          throw new ProviderValidationError(
            `Jira has no field named "${name}". Custom fields: ${custom.join(', ') || 'none'}.`,
            { fieldErrors: { fields: `unknown field ${name}` } },
          );
        }
        extra.set(field.id, field.name);
      }
    }
    const ids = new Set([
      ...requested.standard.map((field) => jiraFieldOf[field]),
      ...extra.keys(),
    ]);
    return { standard: requested.standard, extra, query: [...ids].join(',') };
  }

  #fields(options: CallOptions): Promise<JiraFieldList> {
    const request =
      this.#fieldList ??
      this.#http.request({
        method: 'GET',
        path: `${this.#prefix}/field`,
        schema: jiraFieldListSchema,
        signal: options.signal,
      });
    // Cached for this client's life (fields rarely change); a failure is not cached.
    this.#fieldList = request;
    request.catch(() => {
      if (this.#fieldList === request) this.#fieldList = undefined;
    });
    return request;
  }

  /** Marks a selection on a normalised issue and adds its extra fields by display name. */
  #select<T extends IssueSummary>(
    normalised: T,
    issue: JiraIssue,
    selection: ResolvedFields | undefined,
  ): T {
    if (!selection) return normalised;
    const extraFields: Record<string, unknown> = {};
    for (const [id, name] of selection.extra) {
      extraFields[name] = readableFieldValue(issue.fields[id], (value) =>
        this.#flavour.richTextOut(value),
      );
    }
    return { ...normalised, selectedFields: selection.standard, extraFields };
  }

  async #currentStatus(issueKey: string, options: CallOptions): Promise<Status> {
    const issue = await this.#http.request({
      method: 'GET',
      path: `${this.#prefix}/issue/${segment(issueKey)}`,
      query: { fields: 'status' },
      schema: jiraIssueSchema,
      signal: options.signal,
    });
    return toStatus(issue.fields.status);
  }

  #fetchMyself(options: CallOptions): Promise<JiraUser> {
    const request = this.#http.request({
      method: 'GET',
      path: `${this.#prefix}/myself`,
      schema: jiraUserSchema,
      signal: options.signal,
    });
    // Cache only a success: a failed check must be retried next time.
    this.#myself = request;
    request.catch(() => {
      if (this.#myself === request) this.#myself = undefined;
    });
    return request;
  }

  async #myselfId(options: CallOptions): Promise<string> {
    const user = await (this.#myself ?? this.#fetchMyself(options));
    const id = this.#flavour.userId(user);
    if (!id) throw new ProviderValidationError('Jira did not say who the current user is.');
    return id;
  }

  async #assigneeField(assignee: string, options: CallOptions): Promise<Record<string, string>> {
    const trimmed = assignee.trim();
    const id =
      trimmed.toLowerCase() === 'me'
        ? await this.#myselfId(options)
        : await this.#resolveUserId(trimmed, options);
    return this.#flavour.userRef(id);
  }

  /** A person's name, email or login → the id Jira wants; refuses no match and ambiguity. */
  async #resolveUserId(query: string, options: CallOptions): Promise<string> {
    const users = await this.#http.request({
      method: 'GET',
      path: `${this.#prefix}/user/search`,
      query: { [this.#flavour.userSearchParam]: query, maxResults: 20 },
      schema: z.array(jiraUserSchema),
      signal: options.signal,
    });
    const lower = query.toLowerCase();
    const exact = users.filter((user) =>
      [user.displayName, user.emailAddress, user.name, user.key, user.accountId].some(
        (value) => value?.toLowerCase() === lower,
      ),
    );
    const candidates = exact.length > 0 ? exact : users;
    const [only] = candidates;
    const onlyId = only ? this.#flavour.userId(only) : undefined;
    if (candidates.length === 1 && onlyId) return onlyId;
    if (candidates.length === 0) {
      throw new ProviderValidationError(`No Jira user matches "${query}".`, {
        fieldErrors: { assignee: 'no matching user' },
      });
    }
    const names = candidates
      .slice(0, 5)
      .map((user) => user.displayName ?? this.#flavour.userId(user) ?? '?')
      .join(', ');
    throw new ProviderValidationError(
      `Several Jira users match "${query}": ${names}. Use a full name or email.`,
      { fieldErrors: { assignee: 'ambiguous' } },
    );
  }

  #person(user: JiraUser | null | undefined): Person | null {
    if (!user) return null;
    const id = this.#flavour.userId(user) ?? user.key ?? '';
    return { id, displayName: user.displayName ?? id };
  }

  #summary(issue: JiraIssue): IssueSummary {
    const { fields } = issue;
    return {
      key: issue.key,
      title: fields.summary ?? '',
      status: toStatus(fields.status),
      assignee: this.#person(fields.assignee),
      priority: fields.priority?.name ?? null,
      type: fields.issuetype?.name ?? null,
      project: fields.project
        ? { key: fields.project.key, name: fields.project.name ?? null }
        : null,
      updatedAt: fields.updated ?? null,
      url: `${this.#http.baseUrl}/browse/${encodeURIComponent(issue.key)}`,
    };
  }

  #comment(comment: z.infer<typeof jiraCommentSchema>): Comment {
    return {
      id: comment.id,
      author: this.#person(comment.author),
      body: this.#flavour.richTextOut(comment.body),
      createdAt: comment.created ?? null,
    };
  }

  #detail(issue: JiraIssue): IssueDetail {
    const comments = issue.fields.comment?.comments ?? [];
    return {
      ...this.#summary(issue),
      description: this.#flavour.richTextOut(issue.fields.description),
      reporter: this.#person(issue.fields.reporter),
      createdAt: issue.fields.created ?? null,
      comments: comments.slice(-recentCommentLimit).map((comment) => this.#comment(comment)),
      commentCount: issue.fields.comment?.total ?? comments.length,
    };
  }
}
