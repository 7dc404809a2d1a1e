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
import { ProviderHttp, segment, type ProviderHttpOptions } from '../http.js';
import {
  recentCommentLimit,
  type Account,
  type CallOptions,
  type Comment,
  type CreateIssueInput,
  type IssueDetail,
  type IssueSummary,
  type ListMyIssuesParams,
  type ListProjectsParams,
  type Page,
  type Person,
  type Project,
  type ProviderClient,
  type SearchIssuesParams,
  type Status,
  type UpdateIssueInput,
} from '../types.js';

const linkSchema = z.object({ href: z.string().nullable(), title: z.string().optional() });
const formattableSchema = z.object({ raw: z.string().nullish() }).nullish();

const workPackageSchema = z.object({
  id: z.number(),
  lockVersion: z.number(),
  subject: z.string(),
  description: formattableSchema,
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  _links: z.object({
    status: linkSchema,
    project: linkSchema,
    type: linkSchema.optional(),
    priority: linkSchema.optional(),
    assignee: linkSchema.optional(),
    author: linkSchema.optional(),
  }),
});
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
  _links: z.object({ self: linkSchema }).optional(),
});

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
    const path =
      params.projectKey === undefined
        ? '/api/v3/work_packages'
        : `/api/v3/projects/${segment(projectIdentifier(params.projectKey))}/work_packages`;
    return this.#workPackages(path, filters, params.cursor, params.limit, options);
  }

  listMyIssues(
    { cursor, limit }: ListMyIssuesParams,
    options: CallOptions = {},
  ): Promise<Page<IssueSummary>> {
    return this.#workPackages(
      '/api/v3/work_packages',
      [{ assignee: { operator: '=', values: ['me'] } }, { status: { operator: 'o', values: [] } }],
      cursor,
      limit,
      options,
    );
  }

  async getIssue(key: string, options: CallOptions = {}): Promise<IssueDetail> {
    const id = workPackageId(key);
    const [workPackage, activities] = await Promise.all([
      this.#workPackage(id, options),
      this.#http.request({
        method: 'GET',
        path: `/api/v3/work_packages/${id}/activities`,
        schema: collectionOf(activitySchema),
        signal: options.signal,
      }),
    ]);
    const comments = activities._embedded.elements.filter(
      (activity) => activity._type === 'Activity::Comment' && (activity.comment?.raw ?? '') !== '',
    );
    return this.#detail(workPackage, comments, options);
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
  ): Promise<Page<IssueSummary>> {
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
