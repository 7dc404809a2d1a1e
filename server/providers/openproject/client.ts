/**
 * OpenProject, API v3 (HAL+JSON): Basic `apikey:<token>`; collections paged by page number
 * (`offset` starts at 1) with JSON `filters` — always sent explicitly, because leaving them out
 * means "open work packages only"; linked values written through `_links`; descriptions and
 * comments in markdown; statuses from `/api/v3/statuses`; comments are activities. Every PATCH
 * carries the current `lockVersion`; a 409 `UpdateConflict` re-reads once and retries.
 */
import { z } from 'zod';
import {
  ProviderAuthError,
  ProviderConflictError,
  ProviderValidationError,
  UnknownStatusError,
} from '../errors.js';
import { readableFieldValue, splitRequestedFields, type RequestedFields } from '../fields.js';
import { ProviderHttp, segment, type ProviderHttpOptions } from '../http.js';
import { assertTimeSpent, isoDuration, secondsOfDuration, spentOnDate } from '../time.js';
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
  type Status,
  type UpdateIssueInput,
  type UserInfo,
  type Version,
  type VersionPage,
  type WorkLog,
} from '../types.js';

const linkSchema = z.object({ href: z.string().nullable(), title: z.string().optional() });
const formattableSchema = z.object({ raw: z.string().nullish() }).nullish();

// Unknown properties are kept: custom fields are `customFieldN` (values) and `_links.customFieldN`.
const workPackageSchema = z
  .object({
    id: z.number(),
    lockVersion: z.number(),
    subject: z.string(),
    description: formattableSchema,
    createdAt: z.string().optional(),
    updatedAt: z.string().optional(),
    _links: z
      .object({
        status: linkSchema,
        project: linkSchema,
        type: linkSchema.optional(),
        priority: linkSchema.optional(),
        assignee: linkSchema.optional(),
        author: linkSchema.optional(),
        schema: linkSchema.optional(),
      })
      .catchall(z.unknown()),
  })
  .catchall(z.unknown());
type WorkPackage = z.infer<typeof workPackageSchema>;

function collectionOf<T extends z.ZodType>(element: T) {
  return z.object({
    total: z.number(),
    count: z.number().optional(),
    pageSize: z.number().optional(),
    offset: z.number().optional(),
    _embedded: z.object({ elements: z.array(element) }),
  });
}

const projectSchema = z.object({
  id: z.number(),
  identifier: z.string(),
  name: z.string(),
  description: formattableSchema,
});

const statusSchema = z.object({
  id: z.number(),
  name: z.string(),
  isClosed: z.boolean(),
  isDefault: z.boolean().optional(),
});
type OpenProjectStatus = z.infer<typeof statusSchema>;

const namedResourceSchema = z.object({
  id: z.number(),
  name: z.string(),
  isDefault: z.boolean().optional(),
});

const principalSchema = z.object({
  _type: z.string(),
  id: z.number(),
  name: z.string(),
  login: z.string().optional(),
  email: z.string().nullish(),
  status: z.string().optional(),
  _links: z.object({ self: linkSchema }).optional(),
});

/** A work package schema: `customFieldN: {name, type}` beside the standard properties. */
const workPackageFormSchema = z.record(z.string(), z.unknown());

const versionSchema = z.object({
  id: z.number(),
  name: z.string(),
  description: formattableSchema,
  startDate: z.string().nullish(),
  endDate: z.string().nullish(),
  status: z.string(),
});

const timeEntrySchema = z.object({
  id: z.number(),
  hours: z.string(),
  spentOn: z.string(),
  comment: formattableSchema,
  _links: z.object({ activity: linkSchema.optional(), user: linkSchema.optional() }).optional(),
});

const allowedValueSchema = z.object({
  id: z.number().optional(),
  name: z.string().optional(),
  href: z.string().nullish(),
  title: z.string().optional(),
  _links: z.object({ self: linkSchema }).optional(),
});

const timeEntryFormSchema = z.object({
  _embedded: z.object({
    schema: z.object({
      activity: z
        .object({
          _embedded: z.object({ allowedValues: z.array(allowedValueSchema) }).optional(),
          _links: z.object({ allowedValues: z.array(allowedValueSchema) }).optional(),
        })
        .optional(),
    }),
  }),
});

const relationSchema = z.object({
  id: z.number(),
  type: z.string(),
  description: z.string().nullish(),
  _links: z.object({ from: linkSchema, to: linkSchema }),
});

/** OpenProject relation types, and how each reads from its `from` work package. */
const relationPhrases: Readonly<Record<string, string>> = {
  relates: 'relates to',
  duplicates: 'duplicates',
  duplicated: 'is duplicated by',
  blocks: 'blocks',
  blocked: 'is blocked by',
  precedes: 'precedes',
  follows: 'follows',
  includes: 'includes',
  partof: 'is part of',
  requires: 'requires',
  required: 'is required by',
};

/** Other spellings → the relation type. */
function relationTypeOf(name: string): string | undefined {
  const wanted = name
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ');
  const compact = wanted.replace(/ /g, '');
  if (compact in relationPhrases) return compact;
  const byPhrase = Object.entries(relationPhrases).find(
    ([, phrase]) => phrase === wanted || phrase.replace(/^is /, '') === wanted,
  );
  return byPhrase?.[0];
}

const meSchema = z.object({
  _type: z.string(),
  id: z.number().optional(),
  name: z.string().optional(),
  login: z.string().optional(),
  email: z.string().nullish(),
});

const activitySchema = z.object({
  _type: z.string(),
  id: z.number(),
  comment: formattableSchema,
  createdAt: z.string().optional(),
  _links: z.object({ user: linkSchema.optional() }).optional(),
});
type Activity = z.infer<typeof activitySchema>;

type Filter = Record<string, { operator: string; values: string[] }>;

const workPackageIdPattern = /^#?(\d{1,12})$/;
const projectIdentifierPattern = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

function workPackageId(key: string): string {
  const match = workPackageIdPattern.exec(key.trim());
  if (!match?.[1]) {
    throw new ProviderValidationError(`"${key}" is not an OpenProject work package id (like 42).`);
  }
  return match[1];
}

function projectIdentifier(key: string): string {
  if (!projectIdentifierPattern.test(key)) {
    throw new ProviderValidationError(`"${key}" is not an OpenProject project identifier.`);
  }
  return key;
}

/**
 * Work packages of these projects only, by numeric project id (the `project` filter takes ids; a
 * project policy names OpenProject projects by the id list_projects shows).
 */
function projectFilter(projectIds: readonly string[]): Filter {
  for (const id of projectIds) {
    if (!/^\d+$/.test(id)) {
      throw new ProviderValidationError(`"${id}" is not an OpenProject project id (a number).`);
    }
  }
  return { project: { operator: '=', values: [...projectIds] } };
}

/** The trailing id of an API href (`/api/v3/users/5` → `5`). */
function idOf(href: string | null | undefined): string | undefined {
  return href ? /\/([^/]+)$/.exec(href)?.[1] : undefined;
}

function personOf(link: z.infer<typeof linkSchema> | undefined): Person | null {
  if (!link?.href) return null;
  const id = idOf(link.href) ?? link.href;
  return { id, displayName: link.title ?? id };
}

function toStatus(status: OpenProjectStatus | undefined, fallbackName: string): Status {
  if (!status) return { name: fallbackName, category: 'unknown', isClosed: false };
  return {
    name: status.name,
    category: status.isClosed ? 'done' : status.isDefault ? 'todo' : 'in_progress',
    isClosed: status.isClosed,
  };
}

/** Cursor: `<page>:<pageSize>`, so a continued listing keeps its page size. */
function pageFrom(cursor: string | undefined, limit: number): { page: number; pageSize: number } {
  if (cursor === undefined) return { page: 1, pageSize: limit };
  const match = /^(\d{1,9}):(\d{1,4})$/.exec(cursor);
  if (!match) throw new ProviderValidationError('The page cursor is not valid.');
  return { page: Math.max(1, Number(match[1])), pageSize: Math.max(1, Number(match[2])) };
}

function nextCursor(page: number, pageSize: number, total: number, count: number): string | null {
  return count > 0 && page * pageSize < total ? `${page + 1}:${pageSize}` : null;
}

/** Cursor of a list this client pages itself: `v<offset>`. */
function cursorOffset(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match = /^v(\d{1,9})$/.exec(cursor);
  if (!match) throw new ProviderValidationError('The page cursor is not valid.');
  return Number(match[1]);
}

function sameName(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

export interface OpenProjectSettings {
  baseUrl: string;
  apiToken: string;
}

export class OpenProjectClient implements ProviderClient {
  readonly providerType = 'openproject' as const;
  readonly #http: ProviderHttp;
  #statuses: Promise<OpenProjectStatus[]> | undefined;
  /** Work package schemas by href (custom field names), for this client's life. */
  readonly #schemas = new Map<string, Promise<Record<string, unknown>>>();

  constructor(http: ProviderHttp) {
    this.#http = http;
  }

  async checkCredentials(options: CallOptions = {}): Promise<Account> {
    const me = await this.#me(options);
    return {
      id: String(me.id),
      displayName: me.name ?? me.login ?? String(me.id),
      email: me.email ?? null,
    };
  }

  async listProjects(
    { query, cursor, limit }: ListProjectsParams,
    options: CallOptions = {},
  ): Promise<Page<Project>> {
    const { page, pageSize } = pageFrom(cursor, limit);
    const filters: Filter[] = query?.trim()
      ? [{ name_and_identifier: { operator: '~', values: [query.trim()] } }]
      : [];
    const collection = await this.#http.request({
      method: 'GET',
      path: '/api/v3/projects',
      query: {
        offset: page,
        pageSize,
        filters: JSON.stringify(filters),
        sortBy: JSON.stringify([['name', 'asc']]),
      },
      schema: collectionOf(projectSchema),
      signal: options.signal,
    });
    const items = collection._embedded.elements.map((project) => ({
      // The numeric id, because work packages link their project by id: the same project then has
      // the same key in list_projects and in every issue. Identifiers are accepted wherever a key is.
      key: String(project.id),
      name: project.name,
      providerId: String(project.id),
      description: project.description?.raw ?? null,
      url: `${this.#http.baseUrl}/projects/${encodeURIComponent(project.identifier)}`,
    }));
    return {
      items,
      nextCursor: nextCursor(page, pageSize, collection.total, items.length),
      total: collection.total,
    };
  }

  async searchIssues(
    params: SearchIssuesParams,
    options: CallOptions = {},
  ): Promise<Page<IssueSummary>> {
    if (params.jql?.trim()) {
      throw new ProviderValidationError(
        'JQL is for Jira connections; search OpenProject with text, project, status and assignee.',
      );
    }
    const filters: Filter[] = [];
    if (params.projectKeys !== undefined) filters.push(projectFilter(params.projectKeys));
    if (params.text?.trim())
      filters.push({ search: { operator: '**', values: [params.text.trim()] } });
    const status = params.status?.trim();
    if (status) {
      if (sameName(status, 'open')) filters.push({ status: { operator: 'o', values: [] } });
      else if (sameName(status, 'closed')) filters.push({ status: { operator: 'c', values: [] } });
      else {
        const statuses = await this.#allStatuses(options);
        const match = statuses.find((candidate) => sameName(candidate.name, status));
        if (!match) {
          throw new ProviderValidationError(
            `OpenProject has no status named "${status}". Statuses: ${statuses.map((s) => s.name).join(', ')}.`,
          );
        }
        filters.push({ status: { operator: '=', values: [String(match.id)] } });
      }
    }
    const assignee = params.assignee?.trim();
    if (assignee) {
      if (sameName(assignee, 'me')) filters.push({ assignee: { operator: '=', values: ['me'] } });
      else if (sameName(assignee, 'none') || sameName(assignee, 'unassigned')) {
        filters.push({ assignee: { operator: '!*', values: [] } });
      } else {
        const href = await this.#principalHref(assignee, options);
        filters.push({ assignee: { operator: '=', values: [idOf(href) ?? href] } });
      }
    }
    // OpenProject's backlog sprints are versions: both filter by version.
    for (const version of [params.version, params.sprint]) {
      if (!version?.trim()) continue;
      const id = await this.#versionId(version.trim(), params.projectKey, options);
      filters.push({ version: { operator: '=', values: [id] } });
    }
    const path =
      params.projectKey === undefined
        ? '/api/v3/work_packages'
        : `/api/v3/projects/${segment(projectIdentifier(params.projectKey))}/work_packages`;
    const requested = splitRequestedFields(params.fields);
    const { raw, ...page } = await this.#workPackages(
      path,
      filters,
      params.cursor,
      params.limit,
      options,
    );
    if (!requested) return page;
    const items = await this.#selectAll(page.items, requested, options, raw);
    return { ...page, items };
  }

  async listMyIssues(
    { cursor, limit, projectKeys }: ListMyIssuesParams,
    options: CallOptions = {},
  ): Promise<Page<IssueSummary>> {
    const { raw: _raw, ...page } = await this.#workPackages(
      '/api/v3/work_packages',
      [
        ...(projectKeys === undefined ? [] : [projectFilter(projectKeys)]),
        { assignee: { operator: '=', values: ['me'] } },
        { status: { operator: 'o', values: [] } },
      ],
      cursor,
      limit,
      options,
    );
    return page;
  }

  async getIssue(key: string, options: GetIssueOptions = {}): Promise<IssueDetail> {
    const id = workPackageId(key);
    const requested = splitRequestedFields(options.fields);
    // A work package cannot be fetched field by field; its comments (activities) can be left out.
    const wantsComments = !requested || requested.standard.includes('comments');
    const [workPackage, activities] = await Promise.all([
      this.#workPackage(id, options),
      wantsComments
        ? this.#http.request({
            method: 'GET',
            path: `/api/v3/work_packages/${id}/activities`,
            schema: collectionOf(activitySchema),
            signal: options.signal,
          })
        : undefined,
    ]);
    const comments = (activities?._embedded.elements ?? []).filter(
      (activity) => activity._type === 'Activity::Comment' && (activity.comment?.raw ?? '') !== '',
    );
    const detail = await this.#detail(workPackage, comments, options);
    if (!requested) return detail;
    const [selected] = await this.#selectAll([detail], requested, options, [workPackage]);
    if (!selected) throw new ProviderValidationError('The field selection came back empty.');
    return selected;
  }

  async createIssue(input: CreateIssueInput, options: CallOptions = {}): Promise<IssueDetail> {
    const project = await this.#http.request({
      method: 'GET',
      path: `/api/v3/projects/${segment(projectIdentifier(input.projectKey))}`,
      schema: projectSchema,
      signal: options.signal,
    });
    const links: Record<string, { href: string }> = {
      project: { href: `/api/v3/projects/${project.id}` },
      type: { href: await this.#typeHref(project.id, input.type, options) },
    };
    if (input.assignee?.trim())
      links.assignee = { href: await this.#assigneeHref(input.assignee, options) };
    if (input.priority?.trim())
      links.priority = { href: await this.#priorityHref(input.priority, options) };
    const created = await this.#http.request({
      method: 'POST',
      path: '/api/v3/work_packages',
      body: {
        subject: input.title,
        description: { format: 'markdown', raw: input.description ?? '' },
        _links: links,
      },
      schema: workPackageSchema,
      signal: options.signal,
    });
    return this.#detail(created, [], options);
  }

  async updateIssue(
    key: string,
    input: UpdateIssueInput,
    options: CallOptions = {},
  ): Promise<IssueDetail> {
    const id = workPackageId(key);
    const changes: Record<string, unknown> = {};
    const links: Record<string, { href: string | null }> = {};
    if (input.title !== undefined) changes.subject = input.title;
    if (input.description !== undefined)
      changes.description = { format: 'markdown', raw: input.description };
    if (input.assignee === null) links.assignee = { href: null };
    else if (input.assignee?.trim())
      links.assignee = { href: await this.#assigneeHref(input.assignee, options) };
    if (input.priority?.trim())
      links.priority = { href: await this.#priorityHref(input.priority, options) };
    if (Object.keys(links).length > 0) changes._links = links;
    if (Object.keys(changes).length > 0) await this.#patch(id, () => changes, options);
    return this.getIssue(id, options);
  }

  async transitionIssue(
    key: string,
    statusName: string,
    options: CallOptions = {},
  ): Promise<Status> {
    const id = workPackageId(key);
    const [statuses, current] = await Promise.all([
      this.#allStatuses(options),
      this.#workPackage(id, options),
    ]);
    const currentName = current._links.status.title ?? '';
    const currentStatus = statuses.find(
      (status) => String(status.id) === idOf(current._links.status.href),
    );
    if (sameName(currentName, statusName)) return toStatus(currentStatus, currentName);
    const target = statuses.find((status) => sameName(status.name, statusName));
    if (!target) {
      const reachable = statuses
        .map((status) => status.name)
        .filter((name) => !sameName(name, currentName));
      throw new UnknownStatusError(statusName, reachable, currentName);
    }
    const updated = await this.#patch(
      id,
      () => ({ _links: { status: { href: `/api/v3/statuses/${target.id}` } } }),
      options,
      current,
    );
    const newStatusId = idOf(updated._links.status.href);
    return toStatus(
      statuses.find((status) => String(status.id) === newStatusId),
      updated._links.status.title ?? target.name,
    );
  }

  async addComment(key: string, markdown: string, options: CallOptions = {}): Promise<Comment> {
    const activity = await this.#http.request({
      method: 'POST',
      path: `/api/v3/work_packages/${workPackageId(key)}/activities`,
      body: { comment: { raw: markdown } },
      schema: activitySchema,
      signal: options.signal,
    });
    return this.#comment(activity);
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
    const { page, pageSize } = pageFrom(cursor, limit);
    const collection = await this.#http.request({
      method: 'GET',
      path: '/api/v3/principals',
      query: {
        // Principals are users, groups and placeholder users: only users can be assigned alone.
        filters: JSON.stringify([
          { any_name_attribute: { operator: '~', values: [needle] } },
          { type: { operator: '=', values: ['User'] } },
        ]),
        offset: page,
        pageSize,
      },
      schema: collectionOf(principalSchema),
      signal: options.signal,
    });
    const items = collection._embedded.elements.map((principal): UserInfo => ({
      id: String(principal.id),
      displayName: principal.name,
      email: principal.email ?? null,
      login: principal.login ?? null,
      active: principal.status === undefined ? null : principal.status === 'active',
    }));
    return {
      items,
      nextCursor: nextCursor(page, pageSize, collection.total, items.length),
      total: collection.total,
    };
  }

  async logWork(key: string, input: LogWorkInput, options: CallOptions = {}): Promise<WorkLog> {
    const id = workPackageId(key);
    assertTimeSpent(input.timeSpentSeconds);
    const workPackageHref = { href: `/api/v3/work_packages/${id}` };
    // `entity` is the newer name of the link (time on meetings too); `workPackage` the older one.
    const links: Record<string, { href: string }> = {
      entity: workPackageHref,
      workPackage: workPackageHref,
    };
    if (input.activity?.trim()) {
      links.activity = { href: await this.#activityHref(input.activity.trim(), links, options) };
    }
    const entry = await this.#http.request({
      method: 'POST',
      path: '/api/v3/time_entries',
      body: {
        hours: isoDuration(input.timeSpentSeconds),
        spentOn: spentOnDate(input.started),
        comment: { raw: input.comment ?? '' },
        _links: links,
      },
      schema: timeEntrySchema,
      signal: options.signal,
    });
    return {
      id: String(entry.id),
      issueKey: id,
      timeSpentSeconds: secondsOfDuration(entry.hours) ?? Math.round(input.timeSpentSeconds),
      spentOn: entry.spentOn,
      comment: entry.comment?.raw ?? '',
      author: personOf(entry._links?.user),
      activity: entry._links?.activity?.title ?? null,
    };
  }

  async linkIssues(input: LinkIssuesInput, options: CallOptions = {}): Promise<IssueLink> {
    const fromId = workPackageId(input.fromKey);
    const toId = workPackageId(input.toKey);
    const type = relationTypeOf(input.type);
    if (!type) {
      throw new ProviderValidationError(
        `OpenProject has no relation type "${input.type.trim()}". Relation types: ${Object.keys(relationPhrases).join(', ')}.`,
        { fieldErrors: { type: 'unknown relation type' } },
      );
    }
    const relation = await this.#http.request({
      method: 'POST',
      path: `/api/v3/work_packages/${fromId}/relations`,
      body: {
        type,
        ...(input.comment?.trim() ? { description: input.comment } : {}),
        _links: {
          from: { href: `/api/v3/work_packages/${fromId}` },
          to: { href: `/api/v3/work_packages/${toId}` },
        },
      },
      schema: relationSchema,
      signal: options.signal,
    });
    // OpenProject stores one direction per pair (`precedes` becomes `follows` the other way
    // round): report what it stored.
    return {
      id: String(relation.id),
      description: relationPhrases[relation.type] ?? relation.type,
      type: relation.type,
      fromKey: idOf(relation._links.from.href) ?? fromId,
      toKey: idOf(relation._links.to.href) ?? toId,
    };
  }

  async listVersions(
    { projectKey, cursor, limit }: ListVersionsParams,
    options: CallOptions = {},
  ): Promise<VersionPage> {
    const startAt = cursorOffset(cursor);
    const versions = await this.#projectVersions(projectKey, options);
    const all = versions
      .map((version): Version => ({
        id: String(version.id),
        name: version.name,
        kind: 'version',
        state:
          version.status === 'locked' ? 'locked' : version.status === 'closed' ? 'closed' : 'open',
        description: version.description?.raw || null,
        startDate: version.startDate ?? null,
        endDate: version.endDate ?? null,
        board: null,
      }))
      .sort(
        (a, b) =>
          ['open', 'locked', 'closed'].indexOf(a.state) -
          ['open', 'locked', 'closed'].indexOf(b.state),
      );
    const items = all.slice(startAt, startAt + limit);
    const next = startAt + items.length;
    return {
      items,
      nextCursor: items.length > 0 && next < all.length ? `v${next}` : null,
      total: all.length,
      sprintsAvailable: false,
    };
  }

  async #projectVersions(
    projectKey: string,
    options: CallOptions,
  ): Promise<z.infer<typeof versionSchema>[]> {
    const collection = await this.#http.request({
      method: 'GET',
      path: `/api/v3/projects/${segment(projectIdentifier(projectKey))}/versions`,
      schema: collectionOf(versionSchema),
      signal: options.signal,
    });
    return collection._embedded.elements;
  }

  /** A version id (kept) or name (looked up in the project, or among all visible versions). */
  async #versionId(
    version: string,
    projectKey: string | undefined,
    options: CallOptions,
  ): Promise<string> {
    if (/^\d+$/.test(version)) return version;
    const versions =
      projectKey === undefined
        ? (
            await this.#http.request({
              method: 'GET',
              path: '/api/v3/versions',
              query: { filters: '[]' },
              schema: collectionOf(versionSchema),
              signal: options.signal,
            })
          )._embedded.elements
        : await this.#projectVersions(projectKey, options);
    const match = versions.find((candidate) => sameName(candidate.name, version));
    if (!match) {
      throw new ProviderValidationError(
        `OpenProject has no version named "${version}"${projectKey === undefined ? '' : ' in this project'}. Versions: ${versions.map((v) => v.name).join(', ') || 'none'}.`,
        { fieldErrors: { version: 'unknown version' } },
      );
    }
    return String(match.id);
  }

  /** The activity's href by name, from the time entry form's allowed values. */
  async #activityHref(
    name: string,
    links: Record<string, { href: string }>,
    options: CallOptions,
  ): Promise<string> {
    const form = await this.#http.request({
      method: 'POST',
      path: '/api/v3/time_entries/form',
      body: { _links: links },
      schema: timeEntryFormSchema,
      signal: options.signal,
    });
    const activity = form._embedded.schema.activity;
    const allowed = (
      activity?._embedded?.allowedValues ??
      activity?._links?.allowedValues ??
      []
    ).map((value) => ({
      name: value.name ?? value.title ?? '',
      href: value._links?.self.href ?? value.href ?? null,
    }));
    const match = allowed.find((value) => sameName(value.name, name));
    if (!match?.href) {
      throw new ProviderValidationError(
        `OpenProject has no time entry activity "${name}" here. Activities: ${allowed.map((value) => value.name).join(', ') || 'none'}.`,
        { fieldErrors: { activity: 'unknown activity' } },
      );
    }
    return match.href;
  }

  /**
   * Marks a field selection on normalised work packages and adds the custom fields asked for by
   * name, named as each work package's schema names them.
   */
  async #selectAll<T extends IssueSummary>(
    items: T[],
    requested: RequestedFields,
    options: CallOptions,
    workPackages: WorkPackage[],
  ): Promise<T[]> {
    if (requested.extra.length === 0) {
      return items.map((item) => ({
        ...item,
        selectedFields: requested.standard,
        extraFields: {},
      }));
    }
    const known = new Set<string>();
    const found = new Set<string>();
    const results = await Promise.all(
      items.map(async (item, index) => {
        const workPackage = workPackages[index];
        const schemaHref = workPackage?._links.schema?.href;
        const schema = schemaHref ? await this.#schema(schemaHref, options) : {};
        const customFields = Object.entries(schema).flatMap(([property, value]) => {
          const name = (value as { name?: unknown } | null)?.name;
          return property.startsWith('customField') && typeof name === 'string'
            ? [{ property, name }]
            : [];
        });
        for (const field of customFields) known.add(field.name);
        const extraFields: Record<string, unknown> = {};
        for (const wanted of requested.extra) {
          const field = customFields.find(
            (candidate) => sameName(candidate.property, wanted) || sameName(candidate.name, wanted),
          );
          if (!field) continue;
          found.add(wanted.toLowerCase());
          const raw = workPackage?.[field.property] ?? workPackage?._links[field.property] ?? null;
          extraFields[field.name] = readableFieldValue(raw);
        }
        return { ...item, selectedFields: requested.standard, extraFields };
      }),
    );
    const unknown = requested.extra.filter((wanted) => !found.has(wanted.toLowerCase()));
    // With no work package there is no schema to check a name against: nothing to refuse.
    if (unknown.length > 0 && items.length > 0) {
      throw new ProviderValidationError(
        `OpenProject has no field named "${unknown.join('", "')}" here. Custom fields: ${[...known].join(', ') || 'none'}.`,
        { fieldErrors: { fields: `unknown field ${unknown[0] ?? ''}` } },
      );
    }
    return results;
  }

  #schema(href: string, options: CallOptions): Promise<Record<string, unknown>> {
    const cached = this.#schemas.get(href);
    if (cached) return cached;
    const path = href.startsWith('/api/v3/') ? href : `/api/v3/${href.replace(/^\/+/, '')}`;
    const request = this.#http.request({
      method: 'GET',
      path,
      schema: workPackageFormSchema,
      signal: options.signal,
    });
    this.#schemas.set(href, request);
    request.catch(() => {
      if (this.#schemas.get(href) === request) this.#schemas.delete(href);
    });
    return request;
  }

  /**
   * PATCHes with the current `lockVersion`. On 409 `UpdateConflict` (someone changed it meanwhile)
   * it re-reads once and retries; a second conflict is reported.
   */
  async #patch(
    id: string,
    changes: () => Record<string, unknown>,
    options: CallOptions,
    alreadyRead?: WorkPackage,
  ): Promise<WorkPackage> {
    let workPackage = alreadyRead ?? (await this.#workPackage(id, options));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#http.request({
          method: 'PATCH',
          path: `/api/v3/work_packages/${id}`,
          body: { lockVersion: workPackage.lockVersion, ...changes() },
          schema: workPackageSchema,
          signal: options.signal,
        });
      } catch (error) {
        if (!(error instanceof ProviderConflictError)) throw error;
        if (attempt >= 2) {
          throw new ProviderConflictError(
            `OpenProject work package ${id} kept changing while we updated it (409 UpdateConflict twice). Try again.`,
            { status: 409, cause: error },
          );
        }
        workPackage = await this.#workPackage(id, options);
      }
    }
  }

  #workPackage(id: string, options: CallOptions): Promise<WorkPackage> {
    return this.#http.request({
      method: 'GET',
      path: `/api/v3/work_packages/${id}`,
      schema: workPackageSchema,
      signal: options.signal,
    });
  }

  async #workPackages(
    path: string,
    filters: Filter[],
    cursor: string | undefined,
    limit: number,
    options: CallOptions,
  ): Promise<Page<IssueSummary> & { raw: WorkPackage[] }> {
    const { page, pageSize } = pageFrom(cursor, limit);
    const [collection, statuses] = await Promise.all([
      this.#http.request({
        method: 'GET',
        path,
        query: {
          offset: page,
          pageSize,
          filters: JSON.stringify(filters),
          sortBy: JSON.stringify([['updatedAt', 'desc']]),
        },
        schema: collectionOf(workPackageSchema),
        signal: options.signal,
      }),
      this.#allStatuses(options),
    ]);
    const items = collection._embedded.elements.map((workPackage) =>
      this.#summary(workPackage, statuses),
    );
    return {
      items,
      nextCursor: nextCursor(page, pageSize, collection.total, items.length),
      total: collection.total,
      raw: collection._embedded.elements,
    };
  }

  #me(options: CallOptions): Promise<z.infer<typeof meSchema> & { id: number }> {
    return this.#http
      .request({
        method: 'GET',
        path: '/api/v3/users/me',
        schema: meSchema,
        signal: options.signal,
      })
      .then((me) => {
        if (me._type !== 'User' || me.id === undefined) {
          throw new ProviderAuthError(
            'OpenProject answered as the anonymous user: the API key was not accepted.',
          );
        }
        return { ...me, id: me.id };
      });
  }

  #allStatuses(options: CallOptions): Promise<OpenProjectStatus[]> {
    const request =
      this.#statuses ??
      this.#http
        .request({
          method: 'GET',
          path: '/api/v3/statuses',
          schema: collectionOf(statusSchema),
          signal: options.signal,
        })
        .then((collection) => collection._embedded.elements);
    // Cached for this client's life (statuses rarely change); a failure is not cached.
    this.#statuses = request;
    request.catch(() => {
      if (this.#statuses === request) this.#statuses = undefined;
    });
    return request;
  }

  async #typeHref(
    projectId: number,
    name: string | undefined,
    options: CallOptions,
  ): Promise<string> {
    const types = await this.#http.request({
      method: 'GET',
      path: `/api/v3/projects/${projectId}/types`,
      schema: collectionOf(namedResourceSchema),
      signal: options.signal,
    });
    const elements = types._embedded.elements;
    const wanted = name?.trim();
    const match = wanted
      ? elements.find((type) => sameName(type.name, wanted))
      : (elements.find((type) => type.isDefault) ?? elements[0]);
    if (!match) {
      throw new ProviderValidationError(
        wanted
          ? `This OpenProject project has no type "${wanted}". Types: ${elements.map((t) => t.name).join(', ') || 'none'}.`
          : 'This OpenProject project has no work package types enabled.',
        { fieldErrors: { type: 'unknown type' } },
      );
    }
    return `/api/v3/types/${match.id}`;
  }

  async #priorityHref(name: string, options: CallOptions): Promise<string> {
    const priorities = await this.#http.request({
      method: 'GET',
      path: '/api/v3/priorities',
      schema: collectionOf(namedResourceSchema),
      signal: options.signal,
    });
    const elements = priorities._embedded.elements;
    const match = elements.find((priority) => sameName(priority.name, name));
    if (!match) {
      throw new ProviderValidationError(
        `OpenProject has no priority "${name.trim()}". Priorities: ${elements.map((p) => p.name).join(', ')}.`,
        { fieldErrors: { priority: 'unknown priority' } },
      );
    }
    return `/api/v3/priorities/${match.id}`;
  }

  async #assigneeHref(assignee: string, options: CallOptions): Promise<string> {
    if (sameName(assignee, 'me')) return `/api/v3/users/${(await this.#me(options)).id}`;
    return this.#principalHref(assignee.trim(), options);
  }

  /** A person's name, login or email → their href; refuses no match and ambiguity. */
  async #principalHref(query: string, options: CallOptions): Promise<string> {
    const principals = await this.#http.request({
      method: 'GET',
      path: '/api/v3/principals',
      query: {
        filters: JSON.stringify([{ any_name_attribute: { operator: '~', values: [query] } }]),
        pageSize: 20,
      },
      schema: collectionOf(principalSchema),
      signal: options.signal,
    });
    const found = principals._embedded.elements;
    const exact = found.filter((principal) =>
      [principal.name, principal.login, principal.email].some(
        (value) => value != null && sameName(value, query),
      ),
    );
    const candidates = exact.length > 0 ? exact : found;
    const [only] = candidates;
    if (candidates.length === 1 && only) {
      return only._links?.self.href ?? `/api/v3/users/${only.id}`;
    }
    if (!only) {
      throw new ProviderValidationError(`No OpenProject user matches "${query}".`, {
        fieldErrors: { assignee: 'no matching user' },
      });
    }
    throw new ProviderValidationError(
      `Several OpenProject users match "${query}": ${candidates
        .slice(0, 5)
        .map((principal) => principal.name)
        .join(', ')}. Use a full name or login.`,
      { fieldErrors: { assignee: 'ambiguous' } },
    );
  }

  #summary(workPackage: WorkPackage, statuses: OpenProjectStatus[]): IssueSummary {
    const links = workPackage._links;
    const statusId = idOf(links.status.href);
    const projectId = idOf(links.project.href);
    return {
      key: String(workPackage.id),
      title: workPackage.subject,
      status: toStatus(
        statuses.find((status) => String(status.id) === statusId),
        links.status.title ?? 'Unknown',
      ),
      assignee: personOf(links.assignee),
      priority: links.priority?.title ?? null,
      type: links.type?.title ?? null,
      project: projectId ? { key: projectId, name: links.project.title ?? null } : null,
      updatedAt: workPackage.updatedAt ?? null,
      url: `${this.#http.baseUrl}/work_packages/${workPackage.id}`,
    };
  }

  #comment(activity: Activity): Comment {
    return {
      id: String(activity.id),
      author: personOf(activity._links?.user),
      body: activity.comment?.raw ?? '',
      createdAt: activity.createdAt ?? null,
    };
  }

  async #detail(
    workPackage: WorkPackage,
    comments: Activity[],
    options: CallOptions,
  ): Promise<IssueDetail> {
    const statuses = await this.#allStatuses(options);
    return {
      ...this.#summary(workPackage, statuses),
      description: workPackage.description?.raw ?? '',
      reporter: personOf(workPackage._links.author),
      createdAt: workPackage.createdAt ?? null,
      comments: comments.slice(-recentCommentLimit).map((activity) => this.#comment(activity)),
      commentCount: comments.length,
    };
  }
}

export function createOpenProjectClient(
  settings: OpenProjectSettings,
  httpOptions: ProviderHttpOptions = {},
): OpenProjectClient {
  const basic = Buffer.from(`apikey:${settings.apiToken}`, 'utf8').toString('base64');
  const http = new ProviderHttp(
    { providerType: 'openproject', baseUrl: settings.baseUrl, authorization: `Basic ${basic}` },
    httpOptions,
  );
  return new OpenProjectClient(http);
}
