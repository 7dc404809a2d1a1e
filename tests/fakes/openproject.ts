/**
 * A faithful fake of OpenProject's API v3 (see reference/pm-apis.md): Basic `apikey:<token>` (or
 * Bearer), HAL+JSON collections paged by page number (`offset` starts at 1), JSON `filters` with
 * the default "open only" when none are sent, `POST` → 201, `PATCH` guarded by `lockVersion`
 * (409 `UpdateConflict` when stale), 422 `PropertyConstraintViolation` / `MultipleErrors`,
 * 401 `Unauthenticated` bodies, statuses, types, priorities, principals, and comments as
 * activities.
 */
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

export interface OpenProjectFakeUser {
  id: number;
  login: string;
  firstName: string;
  lastName: string;
  email: string;
  /** The API key. */
  token: string;
}

export interface OpenProjectProjectSeed {
  identifier: string;
  name: string;
  description?: string;
}

export interface OpenProjectWorkPackageSeed {
  /** Project identifier. */
  project: string;
  subject: string;
  description?: string;
  status?: string;
  type?: string;
  priority?: string;
  /** A user's login. */
  assignee?: string;
  author?: string;
  comments?: { author: string; body: string }[];
  /** A version name of the project. */
  version?: string;
  /** Custom field name → value. */
  customFields?: Record<string, unknown>;
}

export interface OpenProjectVersionSeed {
  /** Project identifier. */
  project: string;
  name: string;
  status?: 'open' | 'locked' | 'closed';
  startDate?: string;
  endDate?: string;
  description?: string;
}

export interface OpenProjectCustomField {
  id: number;
  name: string;
  /** OpenProject's schema type: `Integer`, `Float`, `String`, `Boolean`. */
  type: string;
}

export interface StoredTimeEntry {
  id: number;
  workPackageId: number;
  userId: number;
  activityId: number;
  hours: string;
  spentOn: string;
  comment: string;
}

export interface StoredRelation {
  id: number;
  /** The canonical type OpenProject stores. */
  type: string;
  fromId: number;
  toId: number;
  description: string | null;
}

export interface OpenProjectNamed {
  id: number;
  name: string;
  isDefault: boolean;
}

export interface OpenProjectFakeStatus extends OpenProjectNamed {
  isClosed: boolean;
}

export interface StoredActivity {
  id: number;
  workPackageId: number;
  kind: 'Activity' | 'Activity::Comment';
  userId: number;
  comment: string;
  createdAt: Date;
}

export interface StoredWorkPackage {
  id: number;
  lockVersion: number;
  subject: string;
  /** Markdown, as received in `description.raw`. */
  description: string;
  projectId: number;
  typeId: number;
  statusId: number;
  priorityId: number;
  assigneeId: number | null;
  authorId: number;
  createdAt: Date;
  updatedAt: Date;
  versionId: number | null;
  /** Custom field id → value. */
  customValues: Record<number, unknown>;
}

export interface OpenProjectFakeState {
  users: OpenProjectFakeUser[];
  projects: (OpenProjectProjectSeed & { id: number })[];
  workPackages: StoredWorkPackage[];
  activities: StoredActivity[];
  statuses: OpenProjectFakeStatus[];
  types: OpenProjectNamed[];
  priorities: OpenProjectNamed[];
  /** Status id → the status ids it may move to. */
  workflow: Record<number, number[]>;
  /** The next `n` PATCHes find the work package changed by someone else first. */
  concurrentEditsBeforeNextPatches: number;
  versions: (OpenProjectVersionSeed & { id: number; projectId: number })[];
  customFields: OpenProjectCustomField[];
  /** Time entry activities; with no default one a time entry must name its activity. */
  timeEntryActivities: OpenProjectNamed[];
  timeEntries: StoredTimeEntry[];
  relations: StoredRelation[];
  now: () => Date;
}

export interface OpenProjectFakeOptions {
  users?: OpenProjectFakeUser[];
  projects?: OpenProjectProjectSeed[];
  workPackages?: OpenProjectWorkPackageSeed[];
  statuses?: OpenProjectFakeStatus[];
  workflow?: Record<number, number[]>;
  versions?: OpenProjectVersionSeed[];
  /** Custom fields by name and type; ids 3, 4, … (`customField3`). */
  customFields?: { name: string; type: string }[];
  timeEntryActivities?: OpenProjectNamed[];
}

/** OpenProject stores one direction per pair: these types are saved as their reverse. */
const reverseRelations: Readonly<Record<string, string>> = {
  precedes: 'follows',
  blocked: 'blocks',
  duplicated: 'duplicates',
  partof: 'includes',
  required: 'requires',
};
const relationTypes = [
  'relates',
  'duplicates',
  'duplicated',
  'blocks',
  'blocked',
  'precedes',
  'follows',
  'includes',
  'partof',
  'requires',
  'required',
];
const relationNames: Readonly<Record<string, string>> = {
  relates: 'related to',
  duplicates: 'duplicates',
  blocks: 'blocks',
  follows: 'follows',
  includes: 'includes',
  requires: 'requires',
};

export type OpenProjectFake = StartedFake<OpenProjectFakeState> & {
  seedProjects(projects: OpenProjectProjectSeed[]): void;
  seedWorkPackages(workPackages: OpenProjectWorkPackageSeed[]): StoredWorkPackage[];
  /** Makes the next `n` PATCHes meet a concurrent edit (→ 409 UpdateConflict on a stale lockVersion). */
  simulateConcurrentEdits(n: number): void;
  workPackage(id: number): StoredWorkPackage | undefined;
};

export const defaultOpenProjectUsers: OpenProjectFakeUser[] = [
  {
    id: 5,
    login: 'carol',
    firstName: 'Carol',
    lastName: 'Example',
    email: 'carol@example.com',
    token: 'op-key-carol',
  },
  {
    id: 6,
    login: 'dave',
    firstName: 'Dave',
    lastName: 'Other',
    email: 'dave@example.com',
    token: 'op-key-dave',
  },
];

export const defaultOpenProjectStatuses: OpenProjectFakeStatus[] = [
  { id: 1, name: 'New', isClosed: false, isDefault: true },
  { id: 7, name: 'In progress', isClosed: false, isDefault: false },
  { id: 10, name: 'In review', isClosed: false, isDefault: false },
  { id: 12, name: 'Closed', isClosed: true, isDefault: false },
  { id: 14, name: 'Rejected', isClosed: true, isDefault: false },
];

/** Everything may move anywhere, except that a rejected work package can only be renewed. */
function defaultWorkflow(statuses: OpenProjectFakeStatus[]): Record<number, number[]> {
  const ids = statuses.map((status) => status.id);
  const workflow: Record<number, number[]> = {};
  for (const status of statuses) {
    workflow[status.id] =
      status.name === 'Rejected'
        ? ids.filter((id) => id === 1)
        : ids.filter((id) => id !== status.id);
  }
  return workflow;
}

export function seedOpenProjectProjects(n: number, prefix = 'project'): OpenProjectProjectSeed[] {
  return Array.from({ length: n }, (_, index) => ({
    identifier: `${prefix}-${String(index + 1).padStart(3, '0')}`,
    name: `Project ${String(index + 1).padStart(3, '0')}`,
    description: `Seeded project ${index + 1}`,
  }));
}

export function seedOpenProjectWorkPackages(
  project: string,
  n: number,
  overrides: Partial<OpenProjectWorkPackageSeed> = {},
): OpenProjectWorkPackageSeed[] {
  return Array.from({ length: n }, (_, index) => ({
    project,
    subject: `Seeded work package ${index + 1}`,
    description: `Body of seeded work package ${index + 1}`,
    ...overrides,
  }));
}

const errorPrefix = 'urn:openproject-org:api:v3:errors:';

function opError(
  status: number,
  identifier: string,
  message: string,
  attribute?: string,
): FakeResponse {
  return {
    status,
    body: {
      _type: 'Error',
      errorIdentifier: `${errorPrefix}${identifier}`,
      message,
      ...(attribute ? { _embedded: { details: { attribute } } } : {}),
    },
  };
}

function failSeed(message: string): never {
  throw new Error(`seed: ${message}`);
}

function multipleErrors(errors: { message: string; attribute: string }[]): FakeResponse {
  if (errors.length === 1 && errors[0])
    return opError(422, 'PropertyConstraintViolation', errors[0].message, errors[0].attribute);
  return {
    status: 422,
    body: {
      _type: 'Error',
      errorIdentifier: `${errorPrefix}MultipleErrors`,
      message: 'Multiple field constraints have been violated.',
      _embedded: {
        errors: errors.map((error) => ({
          _type: 'Error',
          errorIdentifier: `${errorPrefix}PropertyConstraintViolation`,
          message: error.message,
          _embedded: { details: { attribute: error.attribute } },
        })),
      },
    },
  };
}

const formattable = (raw: string): { format: string; raw: string; html: string } => ({
  format: 'markdown',
  raw,
  html:
    raw === '' ? '' : `<p class="op-uc-p">${raw.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</p>`,
});

type Filter = Record<string, { operator?: unknown; values?: unknown }>;

class InvalidQuery extends Error {}

/** An ISO 8601 duration (`PT1H30M`, `PT1.5H`, `P1DT2H`) → hours, as OpenProject parses it. */
function durationHours(duration: string): number | undefined {
  const match =
    /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      duration,
    );
  if (!match || duration === 'P' || duration === 'PT') return undefined;
  const [, days, hours, minutes, seconds] = match;
  return (
    Number(days ?? 0) * 24 +
    Number(hours ?? 0) +
    Number(minutes ?? 0) / 60 +
    Number(seconds ?? 0) / 3600
  );
}

/** Hours → how OpenProject writes them back (`PT1H30M`). */
function formatHours(hours: number): string {
  const minutes = Math.round(hours * 60);
  const whole = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `PT${whole > 0 ? `${whole}H` : ''}${rest > 0 || whole === 0 ? `${rest}M` : ''}`;
}

export async function startFakeOpenProject(
  options: OpenProjectFakeOptions = {},
): Promise<OpenProjectFake> {
  let projectIds = 0;
  let workPackageIds = 0;
  let activityIds = 0;
  const statuses = (options.statuses ?? defaultOpenProjectStatuses).map((status) => ({
    ...status,
  }));
  const state: OpenProjectFakeState = {
    users: (options.users ?? defaultOpenProjectUsers).map((user) => ({ ...user })),
    projects: [],
    workPackages: [],
    activities: [],
    statuses,
    types: [
      { id: 1, name: 'Task', isDefault: true },
      { id: 2, name: 'Milestone', isDefault: false },
      { id: 3, name: 'Bug', isDefault: false },
      { id: 4, name: 'Feature', isDefault: false },
    ],
    priorities: [
      { id: 7, name: 'Low', isDefault: false },
      { id: 8, name: 'Normal', isDefault: true },
      { id: 9, name: 'High', isDefault: false },
      { id: 10, name: 'Immediate', isDefault: false },
    ],
    workflow: options.workflow ?? defaultWorkflow(statuses),
    concurrentEditsBeforeNextPatches: 0,
    versions: [],
    customFields: (options.customFields ?? []).map((field, index) => ({ id: index + 3, ...field })),
    timeEntryActivities: options.timeEntryActivities ?? [
      { id: 1, name: 'Management', isDefault: false },
      { id: 2, name: 'Specification', isDefault: false },
      { id: 3, name: 'Development', isDefault: true },
      { id: 4, name: 'Testing', isDefault: false },
    ],
    timeEntries: [],
    relations: [],
    now: fakeClock(),
  };
  let versionIds = 0;
  let timeEntryIds = 0;
  let relationIds = 0;

  const userByLogin = (login: string | undefined): OpenProjectFakeUser | undefined =>
    state.users.find((user) => user.login === login);
  const userById = (id: number | null): OpenProjectFakeUser | undefined =>
    id === null ? undefined : state.users.find((user) => user.id === id);
  const nameOf = (user: OpenProjectFakeUser): string => `${user.firstName} ${user.lastName}`;

  function seedProjects(projects: OpenProjectProjectSeed[]): void {
    for (const project of projects) state.projects.push({ ...project, id: ++projectIds });
  }

  function addActivity(workPackageId: number, userId: number, comment: string): StoredActivity {
    const activity: StoredActivity = {
      id: ++activityIds,
      workPackageId,
      kind: comment === '' ? 'Activity' : 'Activity::Comment',
      userId,
      comment,
      createdAt: state.now(),
    };
    state.activities.push(activity);
    return activity;
  }

  function seedWorkPackages(seeds: OpenProjectWorkPackageSeed[]): StoredWorkPackage[] {
    return seeds.map((seed) => {
      const project = state.projects.find((candidate) => candidate.identifier === seed.project);
      if (!project) throw new Error(`seed work package in unknown project ${seed.project}`);
      const byName = <T extends { name: string }>(
        list: T[],
        name: string | undefined,
      ): T | undefined => list.find((item) => item.name.toLowerCase() === name?.toLowerCase());
      const author = userByLogin(seed.author) ?? state.users[0];
      const createdAt = state.now();
      const workPackage: StoredWorkPackage = {
        id: ++workPackageIds,
        lockVersion: 0,
        subject: seed.subject,
        description: seed.description ?? '',
        projectId: project.id,
        typeId: (byName(state.types, seed.type) ?? state.types[0])?.id ?? 1,
        statusId:
          (byName(state.statuses, seed.status) ?? state.statuses.find((s) => s.isDefault))?.id ?? 1,
        priorityId:
          (byName(state.priorities, seed.priority) ?? state.priorities.find((p) => p.isDefault))
            ?.id ?? 8,
        assigneeId: userByLogin(seed.assignee)?.id ?? null,
        authorId: author?.id ?? 0,
        createdAt,
        updatedAt: createdAt,
        versionId:
          seed.version === undefined
            ? null
            : (state.versions.find(
                (version) => version.projectId === project.id && version.name === seed.version,
              )?.id ?? failSeed(`unknown version ${seed.version}`)),
        customValues: Object.fromEntries(
          Object.entries(seed.customFields ?? {}).map(([name, value]) => [
            state.customFields.find((field) => field.name === name)?.id ??
              failSeed(`unknown custom field ${name}`),
            value,
          ]),
        ),
      };
      state.workPackages.push(workPackage);
      addActivity(workPackage.id, workPackage.authorId, '');
      for (const comment of seed.comments ?? []) {
        addActivity(
          workPackage.id,
          userByLogin(comment.author)?.id ?? workPackage.authorId,
          comment.body,
        );
      }
      return workPackage;
    });
  }

  seedProjects(options.projects ?? []);
  for (const version of options.versions ?? []) {
    const project = state.projects.find((candidate) => candidate.identifier === version.project);
    if (!project) throw new Error(`seed version in unknown project ${version.project}`);
    state.versions.push({ ...version, id: ++versionIds, projectId: project.id });
  }
  seedWorkPackages(options.workPackages ?? []);

  function caller(request: RecordedRequest, deadToken: boolean): OpenProjectFakeUser | undefined {
    if (deadToken) return undefined;
    const basic = basicCredentials(request);
    const token = basic?.user === 'apikey' ? basic.password : bearerToken(request);
    return token === undefined ? undefined : state.users.find((user) => user.token === token);
  }

  // ---- representations ---------------------------------------------------------------------

  function userJson(user: OpenProjectFakeUser): unknown {
    return {
      _type: 'User',
      id: user.id,
      name: nameOf(user),
      login: user.login,
      firstName: user.firstName,
      lastName: user.lastName,
      email: user.email,
      admin: false,
      status: 'active',
      _links: { self: { href: `/api/v3/users/${user.id}`, title: nameOf(user) } },
    };
  }

  function userLink(id: number | null): { href: string | null; title?: string } {
    const user = userById(id);
    return user ? { href: `/api/v3/users/${user.id}`, title: nameOf(user) } : { href: null };
  }

  function projectJson(project: OpenProjectFakeState['projects'][number]): unknown {
    return {
      _type: 'Project',
      id: project.id,
      identifier: project.identifier,
      name: project.name,
      active: true,
      public: false,
      description: formattable(project.description ?? ''),
      _links: {
        self: { href: `/api/v3/projects/${project.id}`, title: project.name },
        workPackages: { href: `/api/v3/projects/${project.id}/work_packages` },
        types: { href: `/api/v3/projects/${project.id}/types` },
      },
    };
  }

  function namedJson(
    type: string,
    base: string,
    item: OpenProjectNamed & { isClosed?: boolean },
    position: number,
  ): unknown {
    return {
      _type: type,
      id: item.id,
      name: item.name,
      position,
      isDefault: item.isDefault,
      ...(item.isClosed === undefined
        ? {}
        : { isClosed: item.isClosed, isReadonly: false, color: '#1A67A3' }),
      _links: { self: { href: `${base}/${item.id}`, title: item.name } },
    };
  }

  function workPackageJson(workPackage: StoredWorkPackage): unknown {
    const project = state.projects.find((candidate) => candidate.id === workPackage.projectId);
    const type = state.types.find((candidate) => candidate.id === workPackage.typeId);
    const status = state.statuses.find((candidate) => candidate.id === workPackage.statusId);
    const priority = state.priorities.find((candidate) => candidate.id === workPackage.priorityId);
    const self = `/api/v3/work_packages/${workPackage.id}`;
    return {
      _type: 'WorkPackage',
      id: workPackage.id,
      lockVersion: workPackage.lockVersion,
      subject: workPackage.subject,
      description: formattable(workPackage.description),
      scheduleManually: false,
      startDate: null,
      dueDate: null,
      percentageDone: 0,
      createdAt: workPackage.createdAt.toISOString(),
      updatedAt: workPackage.updatedAt.toISOString(),
      _links: {
        self: { href: self, title: workPackage.subject },
        update: { href: `${self}/form`, method: 'post' },
        updateImmediately: { href: self, method: 'patch' },
        addComment: { href: `${self}/activities`, method: 'post', title: 'Add comment' },
        activities: { href: `${self}/activities` },
        project: { href: `/api/v3/projects/${workPackage.projectId}`, title: project?.name },
        type: { href: `/api/v3/types/${workPackage.typeId}`, title: type?.name },
        status: { href: `/api/v3/statuses/${workPackage.statusId}`, title: status?.name },
        priority: { href: `/api/v3/priorities/${workPackage.priorityId}`, title: priority?.name },
        author: userLink(workPackage.authorId),
        assignee: userLink(workPackage.assigneeId),
        responsible: { href: null },
        version: versionLink(workPackage.versionId),
        schema: {
          href: `/api/v3/work_packages/schemas/${workPackage.projectId}-${workPackage.typeId}`,
        },
      },
      ...Object.fromEntries(
        state.customFields.map((field) => [
          `customField${field.id}`,
          workPackage.customValues[field.id] ?? null,
        ]),
      ),
    };
  }

  function versionLink(id: number | null): { href: string | null; title?: string } {
    const version = state.versions.find((candidate) => candidate.id === id);
    return version
      ? { href: `/api/v3/versions/${version.id}`, title: version.name }
      : { href: null };
  }

  function versionJson(version: OpenProjectFakeState['versions'][number]): unknown {
    const project = state.projects.find((candidate) => candidate.id === version.projectId);
    return {
      _type: 'Version',
      id: version.id,
      name: version.name,
      description: { format: 'plain', raw: version.description ?? '', html: '' },
      startDate: version.startDate ?? null,
      endDate: version.endDate ?? null,
      status: version.status ?? 'open',
      sharing: 'none',
      createdAt: new Date(0).toISOString(),
      updatedAt: new Date(0).toISOString(),
      _links: {
        self: { href: `/api/v3/versions/${version.id}`, title: version.name },
        definingProject: { href: `/api/v3/projects/${version.projectId}`, title: project?.name },
        availableInProjects: { href: `/api/v3/versions/${version.id}/projects` },
      },
    };
  }

  function timeEntryJson(entry: StoredTimeEntry): unknown {
    const workPackage = state.workPackages.find(
      (candidate) => candidate.id === entry.workPackageId,
    );
    const activity = state.timeEntryActivities.find(
      (candidate) => candidate.id === entry.activityId,
    );
    const workPackageLink = {
      href: `/api/v3/work_packages/${entry.workPackageId}`,
      title: workPackage?.subject,
    };
    return {
      _type: 'TimeEntry',
      id: entry.id,
      comment: { format: 'plain', raw: entry.comment, html: `<p>${entry.comment}</p>` },
      spentOn: entry.spentOn,
      hours: entry.hours,
      ongoing: false,
      createdAt: state.now().toISOString(),
      updatedAt: state.now().toISOString(),
      _links: {
        self: { href: `/api/v3/time_entries/${entry.id}` },
        project: { href: `/api/v3/projects/${workPackage?.projectId ?? 0}` },
        entity: workPackageLink,
        workPackage: workPackageLink,
        user: userLink(entry.userId),
        activity: {
          href: `/api/v3/time_entries/activities/${entry.activityId}`,
          title: activity?.name,
        },
      },
    };
  }

  function relationJson(relation: StoredRelation): unknown {
    const link = (id: number): { href: string; title?: string } => ({
      href: `/api/v3/work_packages/${id}`,
      title: state.workPackages.find((candidate) => candidate.id === id)?.subject,
    });
    const reverse = Object.entries(reverseRelations).find(
      ([, type]) => type === relation.type,
    )?.[0];
    return {
      _type: 'Relation',
      id: relation.id,
      name: relationNames[relation.type] ?? relation.type,
      type: relation.type,
      reverseType: reverse ?? relation.type,
      description: relation.description,
      lag: 0,
      _links: {
        self: { href: `/api/v3/relations/${relation.id}` },
        from: link(relation.fromId),
        to: link(relation.toId),
      },
    };
  }

  function activityJson(activity: StoredActivity): unknown {
    return {
      _type: activity.kind,
      id: activity.id,
      comment: formattable(activity.comment),
      details: activity.kind === 'Activity' ? [formattable('Updated')] : [],
      version: 1,
      createdAt: activity.createdAt.toISOString(),
      _links: {
        self: { href: `/api/v3/activities/${activity.id}` },
        workPackage: { href: `/api/v3/work_packages/${activity.workPackageId}` },
        user: userLink(activity.userId),
      },
    };
  }

  function collection(
    request: RecordedRequest,
    elements: unknown[],
    type = 'Collection',
    paged = true,
  ): FakeResponse {
    if (!paged) {
      return {
        status: 200,
        body: {
          _type: type,
          total: elements.length,
          count: elements.length,
          _embedded: { elements },
          _links: { self: { href: request.path } },
        },
      };
    }
    const offset = Math.max(1, Number(queryValue(request, 'offset') ?? 1) || 1);
    const pageSize = Math.min(
      1000,
      Math.max(1, Number(queryValue(request, 'pageSize') ?? 20) || 20),
    );
    const page = elements.slice((offset - 1) * pageSize, offset * pageSize);
    const href = (at: number): string => `${request.path}?offset=${at}&pageSize=${pageSize}`;
    return {
      status: 200,
      body: {
        _type: type,
        total: elements.length,
        count: page.length,
        pageSize,
        offset,
        _embedded: { elements: page },
        _links: {
          self: { href: href(offset) },
          jumpTo: {
            href: `${request.path}?offset=%7Boffset%7D&pageSize=${pageSize}`,
            templated: true,
          },
          changeSize: {
            href: `${request.path}?offset=${offset}&pageSize=%7Bsize%7D`,
            templated: true,
          },
          ...(offset * pageSize < elements.length
            ? { nextByOffset: { href: href(offset + 1) } }
            : {}),
          ...(offset > 1 ? { previousByOffset: { href: href(offset - 1) } } : {}),
        },
      },
    };
  }

  // ---- filters ------------------------------------------------------------------------------

  function parseFilters(request: RecordedRequest, fallback: Filter[]): Filter[] {
    const raw = queryValue(request, 'filters');
    if (raw === undefined) return fallback;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new InvalidQuery('Filters is not a valid JSON array.');
    }
    if (!Array.isArray(parsed)) throw new InvalidQuery('Filters is not a valid JSON array.');
    return parsed as Filter[];
  }

  function eachFilter(
    filters: Filter[],
    known: Record<string, string[]>,
  ): { name: string; operator: string; values: string[] }[] {
    return filters.flatMap((filter) =>
      Object.entries(filter).map(([name, spec]) => {
        const operators = known[name];
        if (!operators) throw new InvalidQuery(`Filter ${name} does not exist.`);
        const operator = typeof spec.operator === 'string' ? spec.operator : '';
        if (!operators.includes(operator))
          throw new InvalidQuery(
            `The operator '${operator}' is not supported by the ${name} filter.`,
          );
        const values = Array.isArray(spec.values) ? spec.values.map(String) : [];
        return { name, operator, values };
      }),
    );
  }

  const workPackageFilters: Record<string, string[]> = {
    status: ['o', 'c', '=', '!', '*'],
    status_id: ['o', 'c', '=', '!', '*'],
    assignee: ['=', '!', '*', '!*'],
    search: ['**'],
    subjectOrId: ['**'],
    subject: ['~', '!~'],
    project: ['=', '!'],
    type: ['=', '!'],
    id: ['=', '!'],
    version: ['=', '!', '*', '!*'],
  };

  function workPackageMatches(
    workPackage: StoredWorkPackage,
    filter: { name: string; operator: string; values: string[] },
    me: OpenProjectFakeUser,
  ): boolean {
    const status = state.statuses.find((candidate) => candidate.id === workPackage.statusId);
    const values = filter.values.map((value) => (value === 'me' ? String(me.id) : value));
    switch (filter.name) {
      case 'status':
      case 'status_id':
        if (filter.operator === 'o') return !status?.isClosed;
        if (filter.operator === 'c') return Boolean(status?.isClosed);
        if (filter.operator === '*') return true;
        return values.includes(String(workPackage.statusId)) === (filter.operator === '=');
      case 'assignee':
        if (filter.operator === '*') return workPackage.assigneeId !== null;
        if (filter.operator === '!*') return workPackage.assigneeId === null;
        return values.includes(String(workPackage.assigneeId)) === (filter.operator === '=');
      case 'search':
      case 'subjectOrId': {
        const needle = (values[0] ?? '').toLowerCase();
        const comments = state.activities
          .filter((activity) => activity.workPackageId === workPackage.id)
          .map((activity) => activity.comment);
        const haystack = [
          String(workPackage.id),
          workPackage.subject,
          ...(filter.name === 'search' ? [workPackage.description, ...comments] : []),
        ]
          .join(' ')
          .toLowerCase();
        return haystack.includes(needle);
      }
      case 'subject': {
        const found = workPackage.subject.toLowerCase().includes((values[0] ?? '').toLowerCase());
        return filter.operator === '~' ? found : !found;
      }
      case 'project':
        return values.includes(String(workPackage.projectId)) === (filter.operator === '=');
      case 'type':
        return values.includes(String(workPackage.typeId)) === (filter.operator === '=');
      case 'id':
        return values.includes(String(workPackage.id)) === (filter.operator === '=');
      case 'version':
        if (filter.operator === '*') return workPackage.versionId !== null;
        if (filter.operator === '!*') return workPackage.versionId === null;
        return values.includes(String(workPackage.versionId)) === (filter.operator === '=');
      default:
        return true;
    }
  }

  function sortWorkPackages(
    request: RecordedRequest,
    list: StoredWorkPackage[],
  ): StoredWorkPackage[] {
    let sortBy: [string, string][] = [['id', 'asc']];
    const raw = queryValue(request, 'sortBy');
    if (raw !== undefined) {
      try {
        sortBy = JSON.parse(raw) as [string, string][];
      } catch {
        throw new InvalidQuery('sortBy is not a valid JSON array.');
      }
    }
    const key = (workPackage: StoredWorkPackage, field: string): string | number => {
      switch (field) {
        case 'updatedAt':
        case 'updated_at':
          return workPackage.updatedAt.getTime();
        case 'createdAt':
        case 'created_at':
          return workPackage.createdAt.getTime();
        case 'subject':
          return workPackage.subject;
        case 'id':
          return workPackage.id;
        default:
          throw new InvalidQuery(`Sorting by ${field} is not supported.`);
      }
    };
    return [...list].sort((a, b) => {
      for (const [field, direction] of sortBy) {
        const left = key(a, field);
        const right = key(b, field);
        const compared =
          typeof left === 'number' && typeof right === 'number'
            ? left - right
            : String(left).localeCompare(String(right));
        if (compared !== 0) return direction === 'desc' ? -compared : compared;
      }
      return a.id - b.id;
    });
  }

  // ---- writes --------------------------------------------------------------------------------

  const idFromHref = (href: unknown, base: string): number | undefined => {
    if (typeof href !== 'string') return undefined;
    const match = new RegExp(`^${base}/(\\d+)$`).exec(href);
    return match ? Number(match[1]) : undefined;
  };

  function linkOf(
    body: Record<string, unknown>,
    name: string,
  ): { present: boolean; href: unknown } {
    const links = (body._links ?? {}) as Record<string, { href?: unknown } | undefined>;
    return name in links
      ? { present: true, href: links[name]?.href ?? null }
      : { present: false, href: undefined };
  }

  function applyChanges(
    target: StoredWorkPackage,
    body: Record<string, unknown>,
    creating: boolean,
  ): { message: string; attribute: string }[] | FakeResponse {
    const errors: { message: string; attribute: string }[] = [];
    if ('subject' in body || creating) {
      if (typeof body.subject !== 'string' || body.subject.trim() === '')
        errors.push({ message: "Subject can't be blank.", attribute: 'subject' });
      else target.subject = body.subject;
    }
    if ('description' in body) {
      const description = body.description as { raw?: unknown } | null;
      if (
        description !== null &&
        (typeof description !== 'object' || typeof description.raw !== 'string')
      ) {
        return opError(
          400,
          'InvalidRequestBody',
          'The request body was invalid: description must be an object with a raw text.',
        );
      }
      target.description = (description?.raw as string | undefined) ?? '';
    }
    const project = linkOf(body, 'project');
    if (creating) {
      const projectId = idFromHref(project.href, '/api/v3/projects');
      if (!state.projects.some((candidate) => candidate.id === projectId))
        errors.push({ message: "Project can't be blank.", attribute: 'project' });
      else target.projectId = projectId ?? 0;
    }
    const type = linkOf(body, 'type');
    if (type.present) {
      const typeId = idFromHref(type.href, '/api/v3/types');
      if (!state.types.some((candidate) => candidate.id === typeId))
        errors.push({
          message: 'Type is not set to one of the allowed values.',
          attribute: 'type',
        });
      else target.typeId = typeId ?? 1;
    } else if (creating) {
      target.typeId = state.types.find((candidate) => candidate.isDefault)?.id ?? 1;
    }
    const priority = linkOf(body, 'priority');
    if (priority.present) {
      const priorityId = idFromHref(priority.href, '/api/v3/priorities');
      if (!state.priorities.some((candidate) => candidate.id === priorityId))
        errors.push({
          message: 'Priority is not set to one of the allowed values.',
          attribute: 'priority',
        });
      else target.priorityId = priorityId ?? 8;
    }
    const assignee = linkOf(body, 'assignee');
    if (assignee.present) {
      if (assignee.href === null) target.assigneeId = null;
      else {
        const assigneeId = idFromHref(assignee.href, '/api/v3/users');
        if (!state.users.some((candidate) => candidate.id === assigneeId))
          errors.push({
            message: 'Assignee is not set to one of the allowed values.',
            attribute: 'assignee',
          });
        else target.assigneeId = assigneeId ?? null;
      }
    }
    const status = linkOf(body, 'status');
    if (status.present) {
      const statusId = idFromHref(status.href, '/api/v3/statuses');
      if (!state.statuses.some((candidate) => candidate.id === statusId)) {
        errors.push({
          message: 'Status is not set to one of the allowed values.',
          attribute: 'status',
        });
      } else if (
        statusId !== target.statusId &&
        !(state.workflow[target.statusId] ?? []).includes(statusId ?? -1)
      ) {
        errors.push({
          message:
            "Status is invalid because no valid transition exists from old to new status for the current user's roles.",
          attribute: 'status',
        });
      } else target.statusId = statusId ?? target.statusId;
    }
    return errors;
  }

  // ---- routes --------------------------------------------------------------------------------

  function handle({ request, behaviour }: FakeRequestContext): FakeResponse {
    const me = caller(request, behaviour.deadToken);
    if (!me)
      return opError(
        401,
        'Unauthenticated',
        'You need to be authenticated to access this resource.',
      );
    const { method, path } = request;
    const body = (
      typeof request.body === 'object' && request.body !== null ? request.body : {}
    ) as Record<string, unknown>;
    const notFound = (): FakeResponse =>
      opError(404, 'NotFound', 'The requested resource could not be found.');
    const findProject = (
      idOrIdentifier: string,
    ): OpenProjectFakeState['projects'][number] | undefined =>
      state.projects.find(
        (project) => String(project.id) === idOrIdentifier || project.identifier === idOrIdentifier,
      );

    try {
      if (method === 'GET' && path === '/api/v3/users/me')
        return { status: 200, body: userJson(me) };

      if (method === 'GET' && path === '/api/v3/projects') {
        const filters = eachFilter(parseFilters(request, []), {
          name_and_identifier: ['~', '='],
          active: ['='],
          id: ['=', '!'],
        });
        const matching = state.projects.filter((project) =>
          filters.every((filter) => {
            if (filter.name === 'name_and_identifier') {
              const needle = (filter.values[0] ?? '').toLowerCase();
              return (
                project.name.toLowerCase().includes(needle) ||
                project.identifier.toLowerCase().includes(needle)
              );
            }
            if (filter.name === 'id')
              return filter.values.includes(String(project.id)) === (filter.operator === '=');
            return filter.values.includes('t');
          }),
        );
        const sortBy = queryValue(request, 'sortBy');
        const sorted = sortBy?.includes('"name"')
          ? [...matching].sort((a, b) => a.name.localeCompare(b.name))
          : matching;
        return collection(request, sorted.map(projectJson));
      }

      const projectRoute = matchPath('/api/v3/projects/:id', path);
      if (method === 'GET' && projectRoute) {
        const project = findProject(projectRoute.id ?? '');
        return project ? { status: 200, body: projectJson(project) } : notFound();
      }

      const projectTypes = matchPath('/api/v3/projects/:id/types', path);
      if (method === 'GET' && projectTypes) {
        if (!findProject(projectTypes.id ?? '')) return notFound();
        return collection(
          request,
          state.types.map((type, index) => namedJson('Type', '/api/v3/types', type, index + 1)),
          'Collection',
          false,
        );
      }

      const projectWorkPackages = matchPath('/api/v3/projects/:id/work_packages', path);
      if (
        (method === 'GET' && path === '/api/v3/work_packages') ||
        (method === 'GET' && projectWorkPackages)
      ) {
        let scope = state.workPackages;
        if (projectWorkPackages) {
          const project = findProject(projectWorkPackages.id ?? '');
          if (!project) return notFound();
          scope = scope.filter((workPackage) => workPackage.projectId === project.id);
        }
        // No `filters` parameter means OpenProject's default query: open work packages only.
        const filters = eachFilter(
          parseFilters(request, [{ status_id: { operator: 'o', values: null } }]),
          workPackageFilters,
        );
        const matching = sortWorkPackages(
          request,
          scope.filter((workPackage) =>
            filters.every((filter) => workPackageMatches(workPackage, filter, me)),
          ),
        );
        return collection(request, matching.map(workPackageJson), 'WorkPackageCollection');
      }

      if (method === 'POST' && (path === '/api/v3/work_packages' || projectWorkPackages)) {
        const draft: StoredWorkPackage = {
          id: 0,
          lockVersion: 0,
          subject: '',
          description: '',
          projectId: 0,
          typeId: 1,
          statusId: state.statuses.find((status) => status.isDefault)?.id ?? 1,
          priorityId: state.priorities.find((priority) => priority.isDefault)?.id ?? 8,
          assigneeId: null,
          authorId: me.id,
          createdAt: new Date(0),
          updatedAt: new Date(0),
          versionId: null,
          customValues: {},
        };
        if (projectWorkPackages) {
          const project = findProject(projectWorkPackages.id ?? '');
          if (!project) return notFound();
          body._links = {
            project: { href: `/api/v3/projects/${project.id}` },
            ...(body._links as object | undefined),
          };
        }
        const result = applyChanges(draft, body, true);
        if (!Array.isArray(result)) return result;
        if (result.length > 0) return multipleErrors(result);
        draft.id = ++workPackageIds;
        draft.createdAt = state.now();
        draft.updatedAt = draft.createdAt;
        state.workPackages.push(draft);
        addActivity(draft.id, me.id, '');
        return { status: 201, body: workPackageJson(draft) };
      }

      const workPackageRoute = matchPath('/api/v3/work_packages/:id', path);
      if (workPackageRoute) {
        const workPackage = state.workPackages.find(
          (candidate) => String(candidate.id) === workPackageRoute.id,
        );
        if (!workPackage) return notFound();
        if (method === 'GET') return { status: 200, body: workPackageJson(workPackage) };
        if (method === 'PATCH') {
          if (state.concurrentEditsBeforeNextPatches > 0) {
            state.concurrentEditsBeforeNextPatches--;
            workPackage.lockVersion++;
            workPackage.updatedAt = state.now();
          }
          if (body.lockVersion !== workPackage.lockVersion) {
            return opError(
              409,
              'UpdateConflict',
              'Could not update the resource because of conflicting modifications.',
            );
          }
          const draft = { ...workPackage };
          const result = applyChanges(draft, body, false);
          if (!Array.isArray(result)) return result;
          if (result.length > 0) return multipleErrors(result);
          Object.assign(workPackage, draft, {
            lockVersion: workPackage.lockVersion + 1,
            updatedAt: state.now(),
          });
          addActivity(workPackage.id, me.id, '');
          return { status: 200, body: workPackageJson(workPackage) };
        }
      }

      const activitiesRoute = matchPath('/api/v3/work_packages/:id/activities', path);
      if (activitiesRoute) {
        const workPackage = state.workPackages.find(
          (candidate) => String(candidate.id) === activitiesRoute.id,
        );
        if (!workPackage) return notFound();
        if (method === 'GET') {
          const activities = state.activities.filter(
            (activity) => activity.workPackageId === workPackage.id,
          );
          return collection(request, activities.map(activityJson), 'Collection', false);
        }
        if (method === 'POST') {
          const comment = body.comment as { raw?: unknown } | undefined;
          if (typeof comment?.raw !== 'string' || comment.raw.trim() === '') {
            return opError(
              422,
              'PropertyConstraintViolation',
              "Comment can't be blank.",
              'comment',
            );
          }
          const activity = addActivity(workPackage.id, me.id, comment.raw);
          workPackage.updatedAt = activity.createdAt;
          return { status: 201, body: activityJson(activity) };
        }
      }

      const schemaRoute = matchPath('/api/v3/work_packages/schemas/:id', path);
      if (method === 'GET' && schemaRoute) {
        const [projectId, typeId] = (schemaRoute.id ?? '').split('-').map(Number);
        if (!findProject(String(projectId)) || !state.types.some((type) => type.id === typeId)) {
          return notFound();
        }
        return {
          status: 200,
          body: {
            _type: 'Schema',
            _dependencies: [],
            lockVersion: {
              type: 'Integer',
              name: 'Resource Version',
              required: true,
              writable: false,
            },
            id: { type: 'Integer', name: 'ID', required: true, writable: false },
            subject: { type: 'String', name: 'Subject', required: true, writable: true },
            ...Object.fromEntries(
              state.customFields.map((field) => [
                `customField${field.id}`,
                {
                  type: field.type,
                  name: field.name,
                  required: false,
                  hasDefault: false,
                  writable: true,
                },
              ]),
            ),
            _links: { self: { href: `/api/v3/work_packages/schemas/${schemaRoute.id ?? ''}` } },
          },
        };
      }

      const projectVersions = matchPath('/api/v3/projects/:id/versions', path);
      if (method === 'GET' && projectVersions) {
        const project = findProject(projectVersions.id ?? '');
        if (!project) return notFound();
        return collection(
          request,
          state.versions.filter((version) => version.projectId === project.id).map(versionJson),
          'Collection',
          false,
        );
      }
      if (method === 'GET' && path === '/api/v3/versions') {
        eachFilter(parseFilters(request, []), { sharing: ['='] });
        return collection(request, state.versions.map(versionJson), 'Collection', false);
      }

      if (
        method === 'POST' &&
        (path === '/api/v3/time_entries' || path === '/api/v3/time_entries/form')
      ) {
        const links = (body._links ?? {}) as Record<string, { href?: unknown } | undefined>;
        const entityHref = links.entity?.href ?? links.workPackage?.href;
        if (
          links.entity?.href !== undefined &&
          links.workPackage?.href !== undefined &&
          links.entity.href !== links.workPackage.href
        ) {
          return opError(
            422,
            'PropertyConstraintViolation',
            'Entity and work package differ.',
            'entity',
          );
        }
        const workPackageId = idFromHref(entityHref, '/api/v3/work_packages');
        const workPackage = state.workPackages.find((candidate) => candidate.id === workPackageId);
        const activityId = links.activity
          ? idFromHref(links.activity.href, '/api/v3/time_entries/activities')
          : state.timeEntryActivities.find((activity) => activity.isDefault)?.id;
        if (path === '/api/v3/time_entries/form') {
          const allowed = state.timeEntryActivities.map((activity) => ({
            _type: 'TimeEntriesActivity',
            id: activity.id,
            name: activity.name,
            position: activity.id,
            default: activity.isDefault,
            _links: {
              self: {
                href: `/api/v3/time_entries/activities/${activity.id}`,
                title: activity.name,
              },
            },
          }));
          return {
            status: 200,
            body: {
              _type: 'Form',
              _embedded: {
                payload: body,
                schema: {
                  _type: 'Schema',
                  activity: {
                    type: 'TimeEntriesActivity',
                    name: 'Activity',
                    required: !state.timeEntryActivities.some((activity) => activity.isDefault),
                    writable: true,
                    _embedded: { allowedValues: allowed },
                    _links: {
                      allowedValues: allowed.map((value) => value._links.self),
                    },
                  },
                },
                validationErrors: {},
              },
              _links: { self: { href: '/api/v3/time_entries/form', method: 'post' } },
            },
          };
        }
        const errors: { message: string; attribute: string }[] = [];
        if (!workPackage)
          errors.push({ message: 'Work package is invalid.', attribute: 'workPackage' });
        const hours = typeof body.hours === 'string' ? durationHours(body.hours) : undefined;
        if (hours === undefined || hours <= 0) {
          errors.push({ message: 'Hours is not a valid duration.', attribute: 'hours' });
        }
        if (typeof body.spentOn !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(body.spentOn)) {
          errors.push({ message: "Date can't be blank.", attribute: 'spentOn' });
        }
        if (!state.timeEntryActivities.some((activity) => activity.id === activityId)) {
          errors.push({ message: "Activity can't be blank.", attribute: 'activity' });
        }
        if (errors.length > 0) return multipleErrors(errors);
        const comment = (body.comment as { raw?: unknown } | undefined)?.raw;
        const entry: StoredTimeEntry = {
          id: ++timeEntryIds,
          workPackageId: workPackage?.id ?? 0,
          userId: me.id,
          activityId: activityId ?? 0,
          hours: formatHours(hours ?? 0),
          spentOn: body.spentOn as string,
          comment: typeof comment === 'string' ? comment : '',
        };
        state.timeEntries.push(entry);
        return { status: 201, body: timeEntryJson(entry) };
      }

      const relationsRoute = matchPath('/api/v3/work_packages/:id/relations', path);
      if (method === 'POST' && relationsRoute) {
        const from = state.workPackages.find(
          (candidate) => String(candidate.id) === relationsRoute.id,
        );
        if (!from) return notFound();
        const links = (body._links ?? {}) as Record<string, { href?: unknown } | undefined>;
        const toId = idFromHref(links.to?.href, '/api/v3/work_packages');
        const to = state.workPackages.find((candidate) => candidate.id === toId);
        const type = typeof body.type === 'string' ? body.type : '';
        const errors: { message: string; attribute: string }[] = [];
        if (!relationTypes.includes(type)) {
          errors.push({
            message: 'Type is not set to one of the allowed values.',
            attribute: 'type',
          });
        }
        if (!to) errors.push({ message: 'To is invalid.', attribute: 'to' });
        else if (to.id === from.id) {
          errors.push({ message: 'To cannot be the same as from.', attribute: 'to' });
        }
        if (errors.length > 0) return multipleErrors(errors);
        const canonical = reverseRelations[type];
        const [fromId, storedToId] = canonical ? [to?.id ?? 0, from.id] : [from.id, to?.id ?? 0];
        if (
          state.relations.some(
            (relation) =>
              (relation.fromId === fromId && relation.toId === storedToId) ||
              (relation.fromId === storedToId && relation.toId === fromId),
          )
        ) {
          return opError(
            422,
            'PropertyConstraintViolation',
            'Relation already exists between these work packages.',
            'to',
          );
        }
        const relation: StoredRelation = {
          id: ++relationIds,
          type: canonical ?? type,
          fromId,
          toId: storedToId,
          description: typeof body.description === 'string' ? body.description : null,
        };
        state.relations.push(relation);
        return { status: 201, body: relationJson(relation) };
      }

      if (method === 'GET' && path === '/api/v3/statuses') {
        return collection(
          request,
          state.statuses.map((status, index) =>
            namedJson('Status', '/api/v3/statuses', status, index + 1),
          ),
          'Collection',
          false,
        );
      }
      if (method === 'GET' && path === '/api/v3/types') {
        return collection(
          request,
          state.types.map((type, index) => namedJson('Type', '/api/v3/types', type, index + 1)),
          'Collection',
          false,
        );
      }
      if (method === 'GET' && path === '/api/v3/priorities') {
        return collection(
          request,
          state.priorities.map((priority, index) =>
            namedJson('Priority', '/api/v3/priorities', priority, index + 1),
          ),
          'Collection',
          false,
        );
      }
      if (method === 'GET' && path === '/api/v3/principals') {
        const filters = eachFilter(parseFilters(request, []), {
          any_name_attribute: ['~'],
          name: ['~'],
          type: ['='],
          status: ['='],
        });
        // Principals are users, groups and placeholder users.
        const principals: { type: string; names: string[]; json: unknown }[] = [
          ...state.users.map((user) => ({
            type: 'User',
            names: [nameOf(user), user.login, user.email],
            json: userJson(user),
          })),
          {
            type: 'Group',
            names: ['Developers'],
            json: {
              _type: 'Group',
              id: 90,
              name: 'Developers',
              _links: { self: { href: '/api/v3/groups/90', title: 'Developers' } },
            },
          },
        ];
        const matching = principals.filter((principal) =>
          filters.every((filter) => {
            if (filter.name === 'type') return filter.values.includes(principal.type);
            if (filter.name !== 'any_name_attribute' && filter.name !== 'name') return true;
            const needle = (filter.values[0] ?? '').toLowerCase();
            return principal.names.some((value) => value.toLowerCase().includes(needle));
          }),
        );
        return collection(
          request,
          matching.map((principal) => principal.json),
        );
      }
    } catch (error) {
      if (error instanceof InvalidQuery) return opError(400, 'InvalidQuery', error.message);
      throw error;
    }

    return notFound();
  }

  const fake = await startFakeServer<OpenProjectFakeState>({
    state,
    contentType: 'application/hal+json; charset=utf-8',
    handle,
    rateLimited: (retryAfterSeconds) => ({
      status: 429,
      headers: { 'Retry-After': String(retryAfterSeconds), 'Content-Type': 'text/plain' },
      body: 'Too Many Requests',
    }),
    unavailable: () => ({
      status: 503,
      headers: { 'Content-Type': 'text/plain' },
      body: 'Service Unavailable',
    }),
    forbidden: () =>
      opError(403, 'MissingPermission', 'You are not authorized to access this resource.'),
  });

  return {
    ...fake,
    seedProjects,
    seedWorkPackages,
    simulateConcurrentEdits(n) {
      state.concurrentEditsBeforeNextPatches = n;
    },
    workPackage: (id) => state.workPackages.find((candidate) => candidate.id === id),
  };
}
