/**
 * The Jira fake both flavours share: users, projects, issues, a workflow, JQL, and the endpoints
 * Cloud (REST v3) and Data Center (REST v2) have in common. `flavour` switches what really differs
 * (see reference/pm-apis.md): auth (Basic email:token vs Bearer PAT), rich text (ADF vs string),
 * user identity (accountId vs name), project listing (`/project/search` paged vs `/project` plain
 * array) and search (`/search/jql` with `nextPageToken`, no total vs `/search` with
 * `startAt`/`total`).
 */
import { createHash } from 'node:crypto';
import { markdownToAdf } from 'marklassian';
import {
  basicCredentials,
  bearerToken,
  fakeClock,
  matchPath,
  queryValue,
  startFakeServer,
  type FakeRequestContext,
  type FakeResponse,
  type RecordedRequest,
  type StartedFake,
} from './fake-server.js';
import { JqlError, parseJql, type JqlExpr, type JqlValue } from './jql.js';

export type JiraFlavourName = 'cloud' | 'data-center';

export interface JiraFakeUser {
  /** Cloud identity. */
  accountId: string;
  /** Data Center identity (user name); also how seeds refer to users. */
  name: string;
  displayName: string;
  email: string;
  /** Cloud API token or Data Center personal access token. */
  token: string;
}

export interface JiraFakeProjectSeed {
  key: string;
  name: string;
  description?: string;
}

export interface JiraFakeIssueSeed {
  projectKey: string;
  summary: string;
  /** Markdown; stored as ADF on Cloud and as a plain string on Data Center. */
  description?: string;
  status?: string;
  type?: string;
  priority?: string;
  /** A user's `name`. */
  assignee?: string;
  reporter?: string;
  comments?: { author: string; body: string }[];
  /** Version names of the issue's project. */
  fixVersions?: string[];
  /** A sprint name. */
  sprint?: string;
  /** Custom field display name → value as Jira stores it (`3`, `"text"`, `{value: "High"}`). */
  customFields?: Record<string, unknown>;
}

export interface JiraFakeVersionSeed {
  projectKey: string;
  name: string;
  description?: string;
  released?: boolean;
  archived?: boolean;
  startDate?: string;
  releaseDate?: string;
}

export interface JiraFakeBoardSeed {
  projectKey: string;
  name: string;
  type: 'scrum' | 'kanban';
}

export interface JiraFakeSprintSeed {
  /** A board name. */
  board: string;
  name: string;
  state: 'active' | 'future' | 'closed';
  startDate?: string;
  endDate?: string;
  goal?: string;
}

export interface JiraFakeCustomField {
  id: string;
  name: string;
  /** Jira's schema type: `number`, `string`, `option`, `array`. */
  type: string;
}

export interface StoredJiraWorklog {
  id: string;
  issueId: string;
  author: string;
  timeSpentSeconds: number;
  started: string;
  /** ADF (Cloud) or string (Data Center), exactly as received. */
  comment: unknown;
  created: Date;
}

export interface JiraFakeLinkType {
  id: string;
  name: string;
  inward: string;
  outward: string;
}

export interface StoredJiraLink {
  id: string;
  type: string;
  /** Issue keys: the outward issue reads with the outward description ("A blocks B": A). */
  outwardIssue: string;
  inwardIssue: string;
}

export interface JiraFakeStatus {
  id: string;
  name: string;
  category: 'new' | 'indeterminate' | 'done';
}

export interface JiraFakeTransition {
  id: string;
  name: string;
  to: string;
}

export interface StoredJiraComment {
  id: string;
  author: string;
  /** ADF (Cloud) or string (Data Center), exactly as received. */
  body: unknown;
  created: Date;
}

export interface StoredJiraIssue {
  id: string;
  key: string;
  projectKey: string;
  summary: string;
  /** ADF (Cloud) or string (Data Center) or null, exactly as received. */
  description: unknown;
  status: string;
  type: string;
  priority: string | null;
  assignee: string | null;
  reporter: string | null;
  created: Date;
  updated: Date;
  comments: StoredJiraComment[];
  /** Version ids. */
  fixVersions: string[];
  sprintId: number | null;
  /** Custom field id → value. */
  customFields: Record<string, unknown>;
}

export interface JiraFakeState {
  flavour: JiraFlavourName;
  users: JiraFakeUser[];
  projects: (JiraFakeProjectSeed & { id: string })[];
  issues: StoredJiraIssue[];
  statuses: JiraFakeStatus[];
  /** Status name → the transitions available from it. */
  workflow: Record<string, JiraFakeTransition[]>;
  issueTypes: string[];
  priorities: string[];
  versions: (JiraFakeVersionSeed & { id: string })[];
  /** False: the site has no Jira Software, and `/rest/agile/1.0/*` answers 404. */
  jiraSoftware: boolean;
  boards: (JiraFakeBoardSeed & { id: number })[];
  sprints: (JiraFakeSprintSeed & { id: number; boardId: number })[];
  customFields: JiraFakeCustomField[];
  worklogs: StoredJiraWorklog[];
  linkTypes: JiraFakeLinkType[];
  links: StoredJiraLink[];
  now: () => Date;
  nextId: () => string;
}

export interface JiraFakeOptions {
  users?: JiraFakeUser[];
  projects?: JiraFakeProjectSeed[];
  issues?: JiraFakeIssueSeed[];
  statuses?: JiraFakeStatus[];
  workflow?: Record<string, JiraFakeTransition[]>;
  issueTypes?: string[];
  priorities?: string[];
  versions?: JiraFakeVersionSeed[];
  /** Default true. */
  jiraSoftware?: boolean;
  boards?: JiraFakeBoardSeed[];
  sprints?: JiraFakeSprintSeed[];
  /** Custom fields by name and type; ids are `customfield_10100`, `…10101`, … */
  customFields?: { name: string; type: string }[];
}

/** Jira's default link types. */
export const defaultJiraLinkTypes: JiraFakeLinkType[] = [
  { id: '10000', name: 'Blocks', inward: 'is blocked by', outward: 'blocks' },
  { id: '10001', name: 'Cloners', inward: 'is cloned by', outward: 'clones' },
  { id: '10002', name: 'Duplicate', inward: 'is duplicated by', outward: 'duplicates' },
  { id: '10003', name: 'Relates', inward: 'relates to', outward: 'relates to' },
];

/** The system fields `GET /field` lists beside the custom ones (a representative subset). */
const systemFields: { id: string; name: string }[] = [
  { id: 'summary', name: 'Summary' },
  { id: 'status', name: 'Status' },
  { id: 'assignee', name: 'Assignee' },
  { id: 'reporter', name: 'Reporter' },
  { id: 'priority', name: 'Priority' },
  { id: 'issuetype', name: 'Issue Type' },
  { id: 'project', name: 'Project' },
  { id: 'created', name: 'Created' },
  { id: 'updated', name: 'Updated' },
  { id: 'description', name: 'Description' },
  { id: 'comment', name: 'Comment' },
  { id: 'fixVersions', name: 'Fix versions' },
  { id: 'labels', name: 'Labels' },
];

/** Jira Software's Sprint field (its id on a typical Cloud site). */
const sprintFieldId = 'customfield_10020';

export type JiraFake = StartedFake<JiraFakeState> & {
  /** Adds projects and issues after start. */
  seedProjects(projects: JiraFakeProjectSeed[]): void;
  seedIssues(issues: JiraFakeIssueSeed[]): StoredJiraIssue[];
  issue(key: string): StoredJiraIssue | undefined;
};

export const defaultJiraStatuses: JiraFakeStatus[] = [
  { id: '10000', name: 'To Do', category: 'new' },
  { id: '3', name: 'In Progress', category: 'indeterminate' },
  { id: '10001', name: 'In Review', category: 'indeterminate' },
  { id: '10002', name: 'Done', category: 'done' },
];

/** Transition names differ from target status names, as in real workflows. */
export const defaultJiraWorkflow: Record<string, JiraFakeTransition[]> = {
  'To Do': [
    { id: '11', name: 'Start Progress', to: 'In Progress' },
    { id: '31', name: 'Done', to: 'Done' },
  ],
  'In Progress': [
    { id: '12', name: 'Stop Progress', to: 'To Do' },
    { id: '21', name: 'Request Review', to: 'In Review' },
    { id: '31', name: 'Done', to: 'Done' },
  ],
  'In Review': [
    { id: '22', name: 'Back to In Progress', to: 'In Progress' },
    { id: '31', name: 'Done', to: 'Done' },
  ],
  Done: [{ id: '41', name: 'Reopen', to: 'To Do' }],
};

export const defaultJiraUsers: JiraFakeUser[] = [
  {
    accountId: '5b10a2844c20165700ede21g',
    name: 'alice',
    displayName: 'Alice Example',
    email: 'alice@example.com',
    token: 'jira-token-alice',
  },
  {
    accountId: '5b10ac8d82e05b22cc7d4ef5',
    name: 'bob',
    displayName: 'Bob Builder',
    email: 'bob@example.com',
    token: 'jira-token-bob',
  },
];

/** `n` projects `P001`…, enough for several pages of `/project/search`. */
export function seedJiraProjects(n: number, prefix = 'P'): JiraFakeProjectSeed[] {
  return Array.from({ length: n }, (_, index) => ({
    key: `${prefix}${String(index + 1).padStart(3, '0')}`,
    name: `Project ${index + 1}`,
    description: `Seeded project ${index + 1}`,
  }));
}

/** `n` issues in one project, alternating assignee and status. */
export function seedJiraIssues(
  projectKey: string,
  n: number,
  overrides: Partial<JiraFakeIssueSeed> = {},
): JiraFakeIssueSeed[] {
  return Array.from({ length: n }, (_, index) => ({
    projectKey,
    summary: `Seeded issue ${index + 1}`,
    description: `Body of seeded issue ${index + 1}`,
    status: 'To Do',
    ...overrides,
  }));
}

const apiPrefix = { cloud: '/rest/api/3', 'data-center': '/rest/api/2' } as const;

export function jiraDate(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}

function jiraError(
  status: number,
  messages: string[],
  errors: Record<string, string> = {},
  headers: Record<string, string> = {},
): FakeResponse {
  return { status, body: { errorMessages: messages, errors }, headers };
}

/** Plain text of an ADF tree or a string, for `text ~`. */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return '';
  const node = value as { text?: unknown; content?: unknown };
  const own = typeof node.text === 'string' ? node.text : '';
  const children = Array.isArray(node.content) ? node.content.map(textOf).join(' ') : '';
  return `${own} ${children}`.trim();
}

function failSeed(message: string): never {
  throw new Error(`seed: ${message}`);
}

function scalarText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number'
    ? String(value)
    : JSON.stringify(value);
}

function isAdfDocument(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const doc = value as Record<string, unknown>;
  return doc.type === 'doc' && doc.version === 1 && Array.isArray(doc.content);
}

type Caller = { kind: 'user'; user: JiraFakeUser } | { kind: 'anonymous' } | { kind: 'failed' };

export async function startJiraFake(
  flavour: JiraFlavourName,
  options: JiraFakeOptions = {},
): Promise<JiraFake> {
  let idCounter = 10_000;
  const state: JiraFakeState = {
    flavour,
    users: (options.users ?? defaultJiraUsers).map((user) => ({ ...user })),
    projects: [],
    issues: [],
    statuses: (options.statuses ?? defaultJiraStatuses).map((status) => ({ ...status })),
    workflow: structuredClone(options.workflow ?? defaultJiraWorkflow),
    issueTypes: options.issueTypes ?? ['Task', 'Bug', 'Story'],
    priorities: options.priorities ?? ['Highest', 'High', 'Medium', 'Low', 'Lowest'],
    versions: [],
    jiraSoftware: options.jiraSoftware ?? true,
    boards: [],
    sprints: [],
    customFields: [
      ...(options.jiraSoftware === false
        ? []
        : [{ id: sprintFieldId, name: 'Sprint', type: 'array' }]),
      ...(options.customFields ?? []).map((field, index) => ({
        id: `customfield_${10_100 + index}`,
        ...field,
      })),
    ],
    worklogs: [],
    linkTypes: defaultJiraLinkTypes.map((type) => ({ ...type })),
    links: [],
    now: fakeClock(),
    nextId: () => String(++idCounter),
  };
  let boardIds = 0;
  let sprintIds = 0;
  for (const version of options.versions ?? [])
    state.versions.push({ ...version, id: state.nextId() });
  for (const board of options.boards ?? []) state.boards.push({ ...board, id: ++boardIds });
  for (const sprint of options.sprints ?? []) {
    const board = state.boards.find((candidate) => candidate.name === sprint.board);
    if (!board) throw new Error(`seed sprint on unknown board ${sprint.board}`);
    state.sprints.push({ ...sprint, id: ++sprintIds, boardId: board.id });
  }
  const prefix = apiPrefix[flavour];
  const isCloud = flavour === 'cloud';
  const richText = (markdown: string): unknown => (isCloud ? markdownToAdf(markdown) : markdown);

  function seedProjects(projects: JiraFakeProjectSeed[]): void {
    for (const project of projects) state.projects.push({ ...project, id: state.nextId() });
  }

  function seedIssues(seeds: JiraFakeIssueSeed[]): StoredJiraIssue[] {
    return seeds.map((seed) => {
      const project = state.projects.find((candidate) => candidate.key === seed.projectKey);
      if (!project) throw new Error(`seed issue in unknown project ${seed.projectKey}`);
      const created = state.now();
      const issue: StoredJiraIssue = {
        id: state.nextId(),
        key: nextKey(project.key),
        projectKey: project.key,
        summary: seed.summary,
        description: seed.description === undefined ? null : richText(seed.description),
        status: seed.status ?? 'To Do',
        type: seed.type ?? 'Task',
        priority: seed.priority ?? 'Medium',
        assignee: seed.assignee ?? null,
        reporter: seed.reporter ?? seed.assignee ?? state.users[0]?.name ?? null,
        created,
        updated: created,
        comments: (seed.comments ?? []).map((comment) => ({
          id: state.nextId(),
          author: comment.author,
          body: richText(comment.body),
          created: state.now(),
        })),
        fixVersions: (seed.fixVersions ?? []).map((name) => {
          const version = state.versions.find(
            (candidate) => candidate.projectKey === project.key && candidate.name === name,
          );
          if (!version) throw new Error(`seed issue with unknown version ${name}`);
          return version.id;
        }),
        sprintId:
          seed.sprint === undefined
            ? null
            : (state.sprints.find((sprint) => sprint.name === seed.sprint)?.id ??
              failSeed(`unknown sprint ${seed.sprint}`)),
        customFields: Object.fromEntries(
          Object.entries(seed.customFields ?? {}).map(([name, value]) => [
            state.customFields.find((field) => field.name === name)?.id ??
              failSeed(`unknown custom field ${name}`),
            value,
          ]),
        ),
      };
      state.issues.push(issue);
      return issue;
    });
  }

  function nextKey(projectKey: string): string {
    const numbers = state.issues
      .filter((issue) => issue.projectKey === projectKey)
      .map((issue) => Number(issue.key.split('-')[1]));
    return `${projectKey}-${Math.max(0, ...numbers) + 1}`;
  }

  seedProjects(options.projects ?? []);
  seedIssues(options.issues ?? []);

  const userByName = (name: string | null): JiraFakeUser | undefined =>
    name === null ? undefined : state.users.find((user) => user.name === name);

  function caller(request: RecordedRequest, deadToken: boolean): Caller {
    if (!request.headers.authorization) return { kind: 'anonymous' };
    if (deadToken) return { kind: 'failed' };
    if (isCloud) {
      const credentials = basicCredentials(request);
      const user = state.users.find(
        (candidate) =>
          candidate.email.toLowerCase() === credentials?.user.toLowerCase() &&
          candidate.token === credentials.password,
      );
      return user ? { kind: 'user', user } : { kind: 'failed' };
    }
    const token = bearerToken(request);
    const user = state.users.find((candidate) => candidate.token === token);
    return user ? { kind: 'user', user } : { kind: 'failed' };
  }

  const seraph = (who: Caller): Record<string, string> =>
    who.kind === 'failed' ? { 'X-Seraph-LoginReason': 'AUTHENTICATED_FAILED' } : {};

  function userJson(user: JiraFakeUser | undefined, origin: string): unknown {
    if (!user) return null;
    return isCloud
      ? {
          self: `${origin}${prefix}/user?accountId=${user.accountId}`,
          accountId: user.accountId,
          accountType: 'atlassian',
          emailAddress: user.email,
          displayName: user.displayName,
          active: true,
          timeZone: 'Europe/Berlin',
        }
      : {
          self: `${origin}${prefix}/user?username=${user.name}`,
          key: `JIRAUSER${user.accountId.slice(-5)}`,
          name: user.name,
          emailAddress: user.email,
          displayName: user.displayName,
          active: true,
          timeZone: 'Europe/Berlin',
        };
  }

  function statusJson(name: string, origin: string): unknown {
    const status = state.statuses.find((candidate) => candidate.name === name);
    const category = status?.category ?? 'new';
    const categoryIds = { new: 2, indeterminate: 4, done: 3 } as const;
    const categoryNames = { new: 'To Do', indeterminate: 'In Progress', done: 'Done' } as const;
    return {
      self: `${origin}${prefix}/status/${status?.id ?? '0'}`,
      id: status?.id ?? '0',
      name,
      statusCategory: {
        self: `${origin}${prefix}/statuscategory/${categoryIds[category]}`,
        id: categoryIds[category],
        key: category,
        name: categoryNames[category],
      },
    };
  }

  function commentJson(
    comment: StoredJiraComment,
    origin: string,
    issue: StoredJiraIssue,
  ): unknown {
    return {
      self: `${origin}${prefix}/issue/${issue.id}/comment/${comment.id}`,
      id: comment.id,
      author: userJson(userByName(comment.author), origin),
      body: comment.body,
      created: jiraDate(comment.created),
      updated: jiraDate(comment.created),
    };
  }

  function issueJson(issue: StoredJiraIssue, fields: Set<string> | 'all', origin: string): unknown {
    const project = state.projects.find((candidate) => candidate.key === issue.projectKey);
    const all: Record<string, unknown> = {
      summary: issue.summary,
      description: issue.description,
      status: statusJson(issue.status, origin),
      assignee: userJson(userByName(issue.assignee), origin),
      reporter: userJson(userByName(issue.reporter), origin),
      priority:
        issue.priority === null
          ? null
          : { name: issue.priority, id: String(state.priorities.indexOf(issue.priority) + 1) },
      issuetype: {
        name: issue.type,
        id: String(state.issueTypes.indexOf(issue.type) + 10_001),
        subtask: false,
      },
      project: { id: project?.id, key: issue.projectKey, name: project?.name },
      created: jiraDate(issue.created),
      updated: jiraDate(issue.updated),
      comment: {
        comments: issue.comments.map((comment) => commentJson(comment, origin, issue)),
        maxResults: issue.comments.length,
        total: issue.comments.length,
        startAt: 0,
      },
      fixVersions: issue.fixVersions.flatMap((id) => {
        const version = state.versions.find((candidate) => candidate.id === id);
        return version ? [versionJson(version, origin)] : [];
      }),
      labels: [],
    };
    for (const field of state.customFields) {
      if (field.id === sprintFieldId) {
        const sprint = state.sprints.find((candidate) => candidate.id === issue.sprintId);
        all[field.id] = sprint
          ? [{ id: sprint.id, name: sprint.name, state: sprint.state, boardId: sprint.boardId }]
          : null;
      } else all[field.id] = issue.customFields[field.id] ?? null;
    }
    const selected =
      fields === 'all'
        ? all
        : Object.fromEntries(Object.entries(all).filter(([name]) => fields.has(name)));
    return {
      id: issue.id,
      key: issue.key,
      self: `${origin}${prefix}/issue/${issue.id}`,
      fields: selected,
    };
  }

  function versionJson(version: JiraFakeState['versions'][number], origin: string): unknown {
    const project = state.projects.find((candidate) => candidate.key === version.projectKey);
    return {
      self: `${origin}${prefix}/version/${version.id}`,
      id: version.id,
      name: version.name,
      ...(version.description === undefined ? {} : { description: version.description }),
      archived: version.archived ?? false,
      released: version.released ?? false,
      ...(version.startDate === undefined ? {} : { startDate: version.startDate }),
      ...(version.releaseDate === undefined ? {} : { releaseDate: version.releaseDate }),
      projectId: Number(project?.id ?? 0),
    };
  }

  function parseFields(
    raw: string | undefined,
    fallback: Set<string> | 'all',
  ): Set<string> | 'all' {
    if (raw === undefined || raw === '') return fallback;
    const names = raw.split(',').map((name) => name.trim());
    if (names.includes('*all') || names.includes('*navigable')) return 'all';
    return new Set(names);
  }

  function findIssue(key: string): StoredJiraIssue | undefined {
    const upper = key.toUpperCase();
    return state.issues.find((issue) => issue.key === upper || issue.id === key);
  }

  // ---- JQL -------------------------------------------------------------------------------

  function resolveUserValue(value: string): string | undefined {
    const lower = value.toLowerCase();
    return state.users.find((user) =>
      isCloud
        ? user.accountId === value || user.email.toLowerCase() === lower
        : user.name.toLowerCase() === lower || user.email.toLowerCase() === lower,
    )?.name;
  }

  function scalarValues(value: JqlValue, field: string, who: Caller): (string | null)[] {
    switch (value.kind) {
      case 'empty':
        return [null];
      case 'list':
        return value.values.flatMap((inner) => scalarValues(inner, field, who));
      case 'function':
        if (value.name === 'currentuser')
          return [who.kind === 'user' ? who.user.name : '\u0000nobody'];
        throw new JqlError(`Unable to find JQL function '${value.name}()'.`);
      case 'string': {
        if (field === 'assignee' || field === 'reporter') {
          const name = resolveUserValue(value.value);
          if (!name)
            throw new JqlError(
              `The value '${value.value}' does not exist for the field '${field}'.`,
            );
          return [name];
        }
        if (
          field === 'status' &&
          !state.statuses.some((s) => s.name.toLowerCase() === value.value.toLowerCase())
        ) {
          throw new JqlError(`The value '${value.value}' does not exist for the field 'status'.`);
        }
        if (
          field === 'fixversion' &&
          !state.versions.some(
            (version) =>
              version.id === value.value ||
              version.name.toLowerCase() === value.value.toLowerCase(),
          )
        ) {
          throw new JqlError(
            `The value '${value.value}' does not exist for the field 'fixVersion'.`,
          );
        }
        if (
          field === 'sprint' &&
          !state.sprints.some(
            (sprint) =>
              String(sprint.id) === value.value ||
              sprint.name.toLowerCase() === value.value.toLowerCase(),
          )
        ) {
          throw new JqlError(`The value '${value.value}' does not exist for the field 'sprint'.`);
        }
        if (
          field === 'project' &&
          !state.projects.some(
            (p) =>
              p.key.toLowerCase() === value.value.toLowerCase() ||
              p.name.toLowerCase() === value.value.toLowerCase(),
          )
        ) {
          throw new JqlError(`The value '${value.value}' does not exist for the field 'project'.`);
        }
        return [value.value];
      }
    }
  }

  function fieldValue(issue: StoredJiraIssue, field: string): string | null {
    switch (field) {
      case 'project':
        return issue.projectKey;
      case 'key':
      case 'issuekey':
      case 'id':
        return issue.key;
      case 'status':
        return issue.status;
      case 'statuscategory': {
        const category =
          state.statuses.find((status) => status.name === issue.status)?.category ?? 'new';
        return category;
      }
      case 'assignee':
        return issue.assignee;
      case 'reporter':
        return issue.reporter;
      case 'summary':
        return issue.summary;
      case 'description':
        return issue.description === null ? null : textOf(issue.description);
      case 'comment':
        return issue.comments.map((comment) => textOf(comment.body)).join(' ');
      case 'text':
        return [
          issue.summary,
          textOf(issue.description),
          ...issue.comments.map((c) => textOf(c.body)),
        ].join(' ');
      case 'priority':
        return issue.priority;
      case 'type':
      case 'issuetype':
        return issue.type;
      case 'updated':
        return issue.updated.toISOString();
      case 'created':
        return issue.created.toISOString();
      default:
        throw new JqlError(
          `Field '${field}' does not exist or you do not have permission to view it.`,
        );
    }
  }

  /** Multi-valued fields (fix versions, sprint): ids and names, or undefined for other fields. */
  function multiValues(issue: StoredJiraIssue, field: string): string[] | undefined {
    if (field === 'fixversion') {
      return issue.fixVersions.flatMap((id) => {
        const version = state.versions.find((candidate) => candidate.id === id);
        return version ? [version.id, version.name] : [];
      });
    }
    if (field === 'sprint') {
      if (!state.jiraSoftware)
        throw new JqlError(
          "Field 'sprint' does not exist or you do not have permission to view it.",
        );
      const sprint = state.sprints.find((candidate) => candidate.id === issue.sprintId);
      return sprint ? [String(sprint.id), sprint.name] : [];
    }
    return undefined;
  }

  function normaliseCategory(value: string): string {
    const lower = value.toLowerCase();
    if (lower === 'done' || lower === '3') return 'done';
    if (lower === 'to do' || lower === 'new' || lower === '2') return 'new';
    if (lower === 'in progress' || lower === 'indeterminate' || lower === '4')
      return 'indeterminate';
    throw new JqlError(`The value '${value}' does not exist for the field 'statusCategory'.`);
  }

  function dateOf(value: string): number {
    const relative = /^(-?\d+)([wdhm])$/i.exec(value);
    if (relative) {
      const unit = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000 }[
        (relative[2] ?? 'd').toLowerCase() as 'w' | 'd' | 'h' | 'm'
      ];
      return Date.now() + Number(relative[1]) * unit;
    }
    const parsed = Date.parse(value.replace(/\//g, '-'));
    if (Number.isNaN(parsed)) throw new JqlError(`Date value '${value}' for field is invalid.`);
    return parsed;
  }

  function evaluate(expr: JqlExpr, issue: StoredJiraIssue, who: Caller): boolean {
    switch (expr.kind) {
      case 'and':
        return evaluate(expr.left, issue, who) && evaluate(expr.right, issue, who);
      case 'or':
        return evaluate(expr.left, issue, who) || evaluate(expr.right, issue, who);
      case 'not':
        return !evaluate(expr.expr, issue, who);
      case 'clause': {
        const many = multiValues(issue, expr.field);
        if (many) {
          if (!['=', '!=', 'in', 'not in', 'is', 'is not'].includes(expr.operator)) {
            throw new JqlError(
              `The operator '${expr.operator}' is not supported by the '${expr.field}' field.`,
            );
          }
          const wanted = scalarValues(expr.value, expr.field, who);
          const hit = wanted.some((value) =>
            value === null
              ? many.length === 0
              : many.some((candidate) => candidate.toLowerCase() === value.toLowerCase()),
          );
          return ['=', 'in', 'is'].includes(expr.operator) ? hit : !hit;
        }
        const actual = fieldValue(issue, expr.field);
        const wanted = scalarValues(expr.value, expr.field, who);
        const equal = (value: string | null): boolean => {
          if (value === null || actual === null) return value === actual;
          if (expr.field === 'statuscategory') return normaliseCategory(value) === actual;
          return value.toLowerCase() === actual.toLowerCase();
        };
        switch (expr.operator) {
          case '=':
          case 'in':
          case 'is':
            return wanted.some(equal);
          case '!=':
          case 'not in':
          case 'is not':
            return !wanted.some(equal);
          case '~':
          case '!~': {
            const needle = (wanted[0] ?? '').replace(/\*/g, '').toLowerCase();
            const found = (actual ?? '').toLowerCase().includes(needle);
            return expr.operator === '~' ? found : !found;
          }
          default: {
            if (actual === null) return false;
            const left = Date.parse(actual);
            const right = dateOf(wanted[0] ?? '');
            if (expr.operator === '>') return left > right;
            if (expr.operator === '>=') return left >= right;
            if (expr.operator === '<') return left < right;
            return left <= right;
          }
        }
      }
    }
  }

  function search(jql: string, who: Caller): StoredJiraIssue[] {
    const query = parseJql(jql);
    const matching = state.issues.filter((issue) =>
      query.where ? evaluate(query.where, issue, who) : true,
    );
    const order =
      query.orderBy.length > 0 ? query.orderBy : [{ field: 'key', direction: 'desc' as const }];
    return matching.sort((a, b) => {
      for (const { field, direction } of order) {
        const left = field === 'key' ? a.id.padStart(12, '0') : (fieldValue(a, field) ?? '');
        const right = field === 'key' ? b.id.padStart(12, '0') : (fieldValue(b, field) ?? '');
        const compared = left.localeCompare(right);
        if (compared !== 0) return direction === 'asc' ? compared : -compared;
      }
      return 0;
    });
  }

  // ---- write validation -----------------------------------------------------------------

  function validateFields(
    fields: Record<string, unknown>,
    creating: boolean,
  ): { errors: Record<string, string>; changes: Partial<StoredJiraIssue> } {
    const errors: Record<string, string> = {};
    const changes: Partial<StoredJiraIssue> = {};
    if (creating) {
      const project = fields.project as { key?: unknown; id?: unknown } | undefined;
      const found = state.projects.find(
        (candidate) => candidate.key === project?.key || candidate.id === project?.id,
      );
      if (!found) errors.project = 'Specify a valid project ID or key';
      else changes.projectKey = found.key;
      const type = fields.issuetype as { name?: unknown; id?: unknown } | undefined;
      const typeName = state.issueTypes.find(
        (name) =>
          name === type?.name || String(state.issueTypes.indexOf(name) + 10_001) === type?.id,
      );
      if (!type) errors.issuetype = 'Specify an issue type';
      else if (!typeName) errors.issuetype = 'The issue type selected is invalid.';
      else changes.type = typeName;
    }
    if ('summary' in fields || creating) {
      if (typeof fields.summary !== 'string' || fields.summary.trim() === '') {
        errors.summary = 'You must specify a summary of the issue.';
      } else changes.summary = fields.summary;
    }
    if ('description' in fields) {
      const description = fields.description;
      if (description === null) changes.description = null;
      else if (isCloud && !isAdfDocument(description)) {
        errors.description =
          'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
      } else if (!isCloud && typeof description !== 'string') {
        errors.description = 'Operation value must be a string';
      } else changes.description = description;
    }
    if ('assignee' in fields) {
      const assignee = fields.assignee as { accountId?: unknown; name?: unknown } | null;
      if (assignee === null) changes.assignee = null;
      else {
        const user = isCloud
          ? state.users.find((candidate) => candidate.accountId === assignee.accountId)
          : state.users.find((candidate) => candidate.name === assignee.name);
        if (!user) {
          errors.assignee = isCloud
            ? 'Specified user does not exist or you do not have required permissions'
            : `User '${String(assignee.name)}' does not exist.`;
        } else changes.assignee = user.name;
      }
    }
    if ('priority' in fields) {
      const priority = fields.priority as { name?: unknown } | null;
      const name = state.priorities.find((candidate) => candidate === priority?.name);
      if (!name) errors.priority = `The priority selected is invalid.`;
      else changes.priority = name;
    }
    return { errors, changes };
  }

  // ---- agile API (Jira Software) ------------------------------------------------------------

  function agile(request: RecordedRequest, who: Caller, origin: string): FakeResponse {
    const { method, path } = request;
    if (!state.jiraSoftware) return { status: 404, body: '<html><body>Not Found</body></html>' };
    if (who.kind !== 'user') {
      return jiraError(
        401,
        ['You are not authenticated. Authentication required.'],
        {},
        seraph(who),
      );
    }
    const startAt = Number(queryValue(request, 'startAt') ?? 0);
    const maxResults = Math.min(50, Number(queryValue(request, 'maxResults') ?? 50));
    const page = (values: unknown[], withTotal: boolean): FakeResponse => {
      const slice = values.slice(startAt, startAt + maxResults);
      return {
        status: 200,
        body: {
          maxResults,
          startAt,
          ...(withTotal ? { total: values.length } : {}),
          isLast: startAt + slice.length >= values.length,
          values: slice,
        },
      };
    };
    if (method === 'GET' && matchPath('/rest/agile/1.0/board', path)) {
      const projectRef = queryValue(request, 'projectKeyOrId');
      const project = projectRef
        ? state.projects.find(
            (candidate) =>
              candidate.key === projectRef.toUpperCase() || candidate.id === projectRef,
          )
        : undefined;
      if (projectRef && !project) {
        return jiraError(400, [`No project could be found with key or id '${projectRef}'.`]);
      }
      const boards = state.boards.filter((board) => !project || board.projectKey === project.key);
      return page(
        boards.map((board) => ({
          id: board.id,
          self: `${origin}/rest/agile/1.0/board/${board.id}`,
          name: board.name,
          type: board.type,
          location: { projectKey: board.projectKey, displayName: board.projectKey },
        })),
        true,
      );
    }
    const sprintRoute = matchPath('/rest/agile/1.0/board/:id/sprint', path);
    if (method === 'GET' && sprintRoute) {
      const board = state.boards.find((candidate) => String(candidate.id) === sprintRoute.id);
      if (!board) {
        return jiraError(404, [`Board does not exist or you do not have permission to see it.`]);
      }
      if (board.type !== 'scrum') return jiraError(400, ['The board does not support sprints']);
      const states = queryValue(request, 'state')?.split(',');
      return page(
        state.sprints
          .filter((sprint) => sprint.boardId === board.id)
          .filter((sprint) => !states || states.includes(sprint.state))
          .map((sprint) => ({
            id: sprint.id,
            self: `${origin}/rest/agile/1.0/sprint/${sprint.id}`,
            state: sprint.state,
            name: sprint.name,
            ...(sprint.startDate === undefined ? {} : { startDate: sprint.startDate }),
            ...(sprint.endDate === undefined ? {} : { endDate: sprint.endDate }),
            originBoardId: sprint.boardId,
            ...(sprint.goal === undefined ? {} : { goal: sprint.goal }),
          })),
        false,
      );
    }
    return jiraError(404, ['null for uri: ' + origin + path]);
  }

  // ---- routes --------------------------------------------------------------------------------

  function handle({ request, behaviour, origin }: FakeRequestContext): FakeResponse {
    const who = caller(request, behaviour.deadToken);
    const headers = seraph(who);
    const { method, path } = request;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const route = (pattern: string): Record<string, string> | undefined =>
      matchPath(`${prefix}${pattern}`, path);
    const unauthenticated = (): FakeResponse =>
      jiraError(
        401,
        ['You are not authenticated. Authentication required to perform this operation.'],
        {},
        headers,
      );
    const issueNotFound = (): FakeResponse =>
      jiraError(
        404,
        ['Issue does not exist or you do not have permission to see it.'],
        {},
        headers,
      );

    if (method === 'GET' && route('/myself')) {
      if (who.kind !== 'user') return unauthenticated();
      return { status: 200, body: userJson(who.user, origin) };
    }

    // Jira Software's agile API; a site without Jira Software has none of it (404).
    if (path.startsWith('/rest/agile/')) return agile(request, who, origin);

    // Projects. Anonymous-capable: a dead token gets 200 and nothing, plus the Seraph header.
    if (isCloud && method === 'GET' && route('/project/search')) {
      const startAt = Number(queryValue(request, 'startAt') ?? 0);
      const maxResults = Math.min(100, Number(queryValue(request, 'maxResults') ?? 50));
      const needle = queryValue(request, 'query')?.toLowerCase();
      const visible = who.kind === 'user' ? state.projects : [];
      const matching = visible
        .filter(
          (project) =>
            !needle ||
            project.key.toLowerCase().includes(needle) ||
            project.name.toLowerCase().includes(needle),
        )
        .sort((a, b) =>
          queryValue(request, 'orderBy')?.replace(/^[+-]/, '') === 'name'
            ? a.name.localeCompare(b.name)
            : a.key.localeCompare(b.key),
        );
      const values = matching.slice(startAt, startAt + maxResults).map((project) => ({
        expand: 'description,lead,issueTypes,url,projectKeys,permissions,insight',
        self: `${origin}${prefix}/project/${project.id}`,
        id: project.id,
        key: project.key,
        name: project.name,
        avatarUrls: { '48x48': `${origin}/secure/projectavatar?pid=${project.id}` },
        projectTypeKey: 'software',
        simplified: false,
        style: 'classic',
        isPrivate: false,
        properties: {},
      }));
      const isLast = startAt + values.length >= matching.length;
      return {
        status: 200,
        headers,
        body: {
          self: `${origin}${path}`,
          ...(isLast
            ? {}
            : {
                nextPage: `${origin}${path}?startAt=${startAt + maxResults}&maxResults=${maxResults}`,
              }),
          maxResults,
          startAt,
          total: matching.length,
          isLast,
          values,
        },
      };
    }
    if (!isCloud && method === 'GET' && route('/project')) {
      const visible = who.kind === 'user' ? state.projects : [];
      return {
        status: 200,
        headers,
        body: visible.map((project) => ({
          expand: 'description,lead,url,projectKeys',
          self: `${origin}${prefix}/project/${project.id}`,
          id: project.id,
          key: project.key,
          name: project.name,
          avatarUrls: { '48x48': `${origin}/secure/projectavatar?pid=${project.id}` },
          projectTypeKey: 'software',
        })),
      };
    }

    // Search.
    if (isCloud && route('/search') && (method === 'GET' || method === 'POST')) {
      return jiraError(410, [
        'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.',
      ]);
    }
    const searchRoute = isCloud ? route('/search/jql') : route('/search');
    if (searchRoute && (method === 'GET' || method === 'POST')) {
      const param = (name: string): string | undefined =>
        method === 'POST'
          ? body[name] === undefined
            ? undefined
            : scalarText(body[name])
          : queryValue(request, name);
      const jql = param('jql') ?? '';
      const maxResults = Math.min(100, Number(param('maxResults') ?? 50));
      const fields = parseFields(
        method === 'POST' && Array.isArray(body.fields)
          ? (body.fields as string[]).join(',')
          : param('fields'),
        isCloud ? new Set<string>() : 'all',
      );
      let found: StoredJiraIssue[];
      try {
        if (isCloud && parseJql(jql).where === null) {
          return jiraError(
            400,
            [
              'Unbounded JQL queries are not allowed here. Please add a search restriction to your query.',
            ],
            {},
            headers,
          );
        }
        found = who.kind === 'user' ? search(jql, who) : [];
      } catch (error) {
        if (error instanceof JqlError) return jiraError(400, [error.message], {}, headers);
        throw error;
      }
      if (isCloud) {
        const fingerprint = createHash('sha256').update(jql).digest('base64url').slice(0, 8);
        const token = param('nextPageToken');
        let offset = 0;
        if (token !== undefined) {
          const decoded = /^(\d+)\.(.+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
          if (decoded?.[2] !== fingerprint)
            return jiraError(
              400,
              ['The provided next page token is invalid or expired.'],
              {},
              headers,
            );
          offset = Number(decoded[1]);
        }
        const page = found.slice(offset, offset + maxResults);
        const next = offset + page.length;
        const isLast = next >= found.length;
        return {
          status: 200,
          headers,
          body: {
            issues: page.map((issue) =>
              fields instanceof Set && fields.size === 0
                ? { id: issue.id }
                : issueJson(issue, fields, origin),
            ),
            ...(isLast
              ? {}
              : { nextPageToken: Buffer.from(`${next}.${fingerprint}`).toString('base64url') }),
            isLast,
          },
        };
      }
      const startAt = Number(param('startAt') ?? 0);
      return {
        status: 200,
        headers,
        body: {
          expand: 'schema,names',
          startAt,
          maxResults,
          total: found.length,
          issues: found
            .slice(startAt, startAt + maxResults)
            .map((issue) => issueJson(issue, fields, origin)),
        },
      };
    }

    // Users. `query` (Cloud: display name and email, from the start of a word) or `username`
    // (Data Center: user name, display name and email); startAt / maxResults; no total.
    if (method === 'GET' && route('/user/search')) {
      if (who.kind !== 'user') return unauthenticated();
      const needle = (queryValue(request, isCloud ? 'query' : 'username') ?? '').toLowerCase();
      if (!needle) {
        return jiraError(400, [
          isCloud
            ? "The query parameter 'query' is required."
            : "The parameter 'username' is mandatory.",
        ]);
      }
      const startAt = Number(queryValue(request, 'startAt') ?? 0);
      const maxResults = Math.min(1000, Number(queryValue(request, 'maxResults') ?? 50));
      const found = state.users.filter((user) =>
        [user.displayName, user.email, ...(isCloud ? [] : [user.name])].some((value) =>
          value
            .toLowerCase()
            .split(/[\s@.]+/)
            .concat(value.toLowerCase())
            .some((word) => word.startsWith(needle)),
        ),
      );
      return {
        status: 200,
        body: found.slice(startAt, startAt + maxResults).map((user) => userJson(user, origin)),
      };
    }

    if (method === 'GET' && route('/field')) {
      if (who.kind !== 'user') return unauthenticated();
      return {
        status: 200,
        body: [
          ...systemFields.map((field) => ({
            id: field.id,
            key: field.id,
            name: field.name,
            custom: false,
            orderable: true,
            navigable: true,
            searchable: true,
            clauseNames: [field.id],
          })),
          ...state.customFields.map((field) => ({
            id: field.id,
            key: field.id,
            name: field.name,
            custom: true,
            orderable: true,
            navigable: true,
            searchable: true,
            clauseNames: [`cf[${field.id.slice('customfield_'.length)}]`, field.name],
            schema: {
              type: field.type,
              custom: `com.atlassian.jira.plugin.system.customfieldtypes:${field.type}`,
              customId: Number(field.id.slice('customfield_'.length)),
            },
          })),
        ],
      };
    }

    // Issue links.
    if (method === 'GET' && route('/issueLinkType')) {
      if (who.kind !== 'user') return unauthenticated();
      return {
        status: 200,
        body: {
          issueLinkTypes: state.linkTypes.map((type) => ({
            ...type,
            self: `${origin}${prefix}/issueLinkType/${type.id}`,
          })),
        },
      };
    }
    if (method === 'POST' && route('/issueLink')) {
      if (who.kind !== 'user') return unauthenticated();
      const typeRef = (body.type ?? {}) as { name?: unknown; id?: unknown };
      const type = state.linkTypes.find(
        (candidate) => candidate.name === typeRef.name || candidate.id === typeRef.id,
      );
      if (!type) {
        return jiraError(404, [
          `No issue link type with name '${scalarText(typeRef.name ?? typeRef.id)}' found.`,
        ]);
      }
      const keyOf = (ref: unknown): string | undefined => {
        const record = (ref ?? {}) as { key?: unknown; id?: unknown };
        return findIssue(scalarText(record.key ?? record.id ?? ''))?.key;
      };
      const outward = keyOf(body.outwardIssue);
      const inward = keyOf(body.inwardIssue);
      if (!outward || !inward) return jiraError(404, ['Issue Does Not Exist']);
      if (body.comment !== undefined) {
        const commentBody = (body.comment as { body?: unknown }).body;
        const valid = isCloud ? isAdfDocument(commentBody) : typeof commentBody === 'string';
        if (!valid) return jiraError(400, [], { comment: 'Comment body is not valid.' });
        findIssue(outward)?.comments.push({
          id: state.nextId(),
          author: who.user.name,
          body: commentBody,
          created: state.now(),
        });
      }
      state.links.push({
        id: state.nextId(),
        type: type.name,
        outwardIssue: outward,
        inwardIssue: inward,
      });
      // Jira answers 201 with no body.
      return { status: 201 };
    }

    // Project versions: a plain array on both flavours.
    const versionsRoute = route('/project/:key/versions');
    if (method === 'GET' && versionsRoute) {
      const project =
        who.kind === 'user'
          ? state.projects.find(
              (candidate) =>
                candidate.key === versionsRoute.key?.toUpperCase() ||
                candidate.id === versionsRoute.key,
            )
          : undefined;
      if (!project) {
        return jiraError(
          404,
          [`No project could be found with key '${versionsRoute.key ?? ''}'.`],
          {},
          headers,
        );
      }
      return {
        status: 200,
        headers,
        body: state.versions
          .filter((version) => version.projectKey === project.key)
          .map((version) => versionJson(version, origin)),
      };
    }

    // Issues.
    if (method === 'POST' && route('/issue')) {
      if (who.kind !== 'user') return unauthenticated();
      const fields = (body.fields ?? {}) as Record<string, unknown>;
      const { errors, changes } = validateFields(fields, true);
      if (Object.keys(errors).length > 0) return jiraError(400, [], errors);
      const projectKey = changes.projectKey ?? '';
      const created = state.now();
      const issue: StoredJiraIssue = {
        id: state.nextId(),
        key: nextKey(projectKey),
        projectKey,
        summary: changes.summary ?? '',
        description: changes.description ?? null,
        status: state.statuses[0]?.name ?? 'To Do',
        type: changes.type ?? 'Task',
        priority: changes.priority ?? 'Medium',
        assignee: changes.assignee ?? null,
        reporter: who.user.name,
        created,
        updated: created,
        comments: [],
        fixVersions: [],
        sprintId: null,
        customFields: {},
      };
      state.issues.push(issue);
      return {
        status: 201,
        body: { id: issue.id, key: issue.key, self: `${origin}${prefix}/issue/${issue.id}` },
      };
    }

    const issueRoute = route('/issue/:key');
    if (issueRoute) {
      const issue = who.kind === 'user' ? findIssue(issueRoute.key ?? '') : undefined;
      if (method === 'GET') {
        if (!issue) return issueNotFound();
        return {
          status: 200,
          headers,
          body: issueJson(issue, parseFields(queryValue(request, 'fields'), 'all'), origin),
        };
      }
      if (method === 'PUT') {
        if (who.kind !== 'user') return unauthenticated();
        if (!issue) return issueNotFound();
        const { errors, changes } = validateFields(
          (body.fields ?? {}) as Record<string, unknown>,
          false,
        );
        if (Object.keys(errors).length > 0) return jiraError(400, [], errors);
        Object.assign(issue, changes, { updated: state.now() });
        return { status: 204 };
      }
    }

    const transitionsRoute = route('/issue/:key/transitions');
    if (transitionsRoute) {
      if (who.kind !== 'user') return method === 'GET' ? issueNotFound() : unauthenticated();
      const issue = findIssue(transitionsRoute.key ?? '');
      if (!issue) return issueNotFound();
      const available = state.workflow[issue.status] ?? [];
      if (method === 'GET') {
        return {
          status: 200,
          body: {
            expand: 'transitions',
            transitions: available.map((transition) => ({
              id: transition.id,
              name: transition.name,
              to: statusJson(transition.to, origin),
              hasScreen: false,
              isGlobal: false,
              isInitial: false,
              isAvailable: true,
              isConditional: false,
              isLooped: false,
            })),
          },
        };
      }
      if (method === 'POST') {
        const id = (body.transition as { id?: unknown } | undefined)?.id;
        const transition = available.find((candidate) => candidate.id === scalarText(id));
        if (!transition)
          return jiraError(400, [`Transition id '${scalarText(id)}' is not valid for this issue.`]);
        issue.status = transition.to;
        issue.updated = state.now();
        return { status: 204 };
      }
    }

    const worklogRoute = route('/issue/:key/worklog');
    if (worklogRoute && method === 'POST') {
      if (who.kind !== 'user') return unauthenticated();
      const issue = findIssue(worklogRoute.key ?? '');
      if (!issue) return issueNotFound();
      const errors: Record<string, string> = {};
      const seconds = body.timeSpentSeconds;
      if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 60) {
        errors.timeLogged = 'You must indicate the time spent working.';
      }
      const started = body.started;
      if (typeof started !== 'string') errors.started = 'You must specify a valid start date.';
      else if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$/.test(started)) {
        errors.started = 'You must specify a valid start date.';
      }
      if (body.comment !== undefined) {
        const valid = isCloud ? isAdfDocument(body.comment) : typeof body.comment === 'string';
        if (!valid)
          errors.comment = isCloud
            ? 'Comment must be an Atlassian Document.'
            : 'Comment must be a string.';
      }
      if (Object.keys(errors).length > 0) return jiraError(400, [], errors);
      const worklog: StoredJiraWorklog = {
        id: state.nextId(),
        issueId: issue.id,
        author: who.user.name,
        timeSpentSeconds: seconds as number,
        started: started as string,
        comment: body.comment ?? null,
        created: state.now(),
      };
      state.worklogs.push(worklog);
      const hours = Math.floor(worklog.timeSpentSeconds / 3600);
      const minutes = Math.round((worklog.timeSpentSeconds % 3600) / 60);
      return {
        status: 201,
        body: {
          self: `${origin}${prefix}/issue/${issue.id}/worklog/${worklog.id}`,
          author: userJson(who.user, origin),
          updateAuthor: userJson(who.user, origin),
          ...(worklog.comment === null ? {} : { comment: worklog.comment }),
          created: jiraDate(worklog.created),
          updated: jiraDate(worklog.created),
          started: worklog.started,
          timeSpent: [hours ? `${hours}h` : '', minutes ? `${minutes}m` : ''].join(' ').trim(),
          timeSpentSeconds: worklog.timeSpentSeconds,
          id: worklog.id,
          issueId: issue.id,
        },
      };
    }

    const commentRoute = route('/issue/:key/comment');
    if (commentRoute) {
      if (who.kind !== 'user') return method === 'GET' ? issueNotFound() : unauthenticated();
      const issue = findIssue(commentRoute.key ?? '');
      if (!issue) return issueNotFound();
      if (method === 'GET') {
        const startAt = Number(queryValue(request, 'startAt') ?? 0);
        const maxResults = Number(queryValue(request, 'maxResults') ?? 5000);
        return {
          status: 200,
          body: {
            startAt,
            maxResults,
            total: issue.comments.length,
            comments: issue.comments
              .slice(startAt, startAt + maxResults)
              .map((c) => commentJson(c, origin, issue)),
          },
        };
      }
      if (method === 'POST') {
        const commentBody = body.body;
        const valid = isCloud
          ? isAdfDocument(commentBody)
          : typeof commentBody === 'string' && commentBody.trim() !== '';
        if (!valid) {
          return jiraError(400, [], {
            comment: isCloud
              ? 'Comment body is not valid: it must be an Atlassian Document.'
              : 'Comment body can not be empty!',
          });
        }
        const comment: StoredJiraComment = {
          id: state.nextId(),
          author: who.user.name,
          body: commentBody,
          created: state.now(),
        };
        issue.comments.push(comment);
        issue.updated = comment.created;
        return { status: 201, body: commentJson(comment, origin, issue) };
      }
    }

    return jiraError(404, ['null for uri: ' + origin + path]);
  }

  const fake = await startFakeServer<JiraFakeState>({
    state,
    contentType: 'application/json;charset=UTF-8',
    handle,
    rateLimited: (retryAfterSeconds): FakeResponse =>
      isCloud
        ? {
            status: 429,
            headers: {
              'Retry-After': String(retryAfterSeconds),
              'X-RateLimit-Limit': '350',
              'X-RateLimit-Remaining': '0',
              'X-RateLimit-Reset': new Date(Date.now() + retryAfterSeconds * 1000).toISOString(),
              'X-RateLimit-NearLimit': 'true',
              'RateLimit-Reason': 'jira-burst-based',
            },
            body: { errorMessages: ['Rate limit exceeded.'], errors: {} },
          }
        : {
            status: 429,
            headers: {
              'retry-after': String(retryAfterSeconds),
              'X-RateLimit-Limit': '20',
              'X-RateLimit-Remaining': '0',
              'X-RateLimit-Interval-Seconds': '1',
              'X-RateLimit-FillRate': '2',
            },
            body: { errorMessages: ['Too many requests.'], errors: {} },
          },
    unavailable: () => ({
      status: 503,
      headers: { 'Content-Type': 'text/html' },
      body: '<html><body><h1>503 Service Unavailable</h1></body></html>',
    }),
    // Jira's 403 for an operation the account may not perform.
    forbidden: () => jiraError(403, ['You do not have the permission to perform this operation.']),
  });

  return {
    ...fake,
    seedProjects,
    seedIssues,
    issue: (key) => findIssue(key),
  };
}
