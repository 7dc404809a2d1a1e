/**
 * What a credential may do beyond its read/write scope (SPEC §3.7): a tool allow-list and a
 * project allow-list. A `KeyPolicy` belongs to an MCP key today and is shaped to be attached to an
 * OAuth grant as well: nothing here knows where it is stored.
 *
 * - `tools`: tool names (see `policyToolNames`), or null for every tool the scope allows.
 * - `projects`: connection ids (the whole connection) and `"<connection id>:<project key>"` (one
 *   project: a Jira project key, an OpenProject project id as list_projects shows it), or null for
 *   everything the user's connections reach.
 */
import { z } from 'zod';
import type { ProviderType } from '../providers/types.js';
import { allToolNames } from '../mcp/tools/names.js';
import { AppError } from '../errors.js';

export const policyToolNames = allToolNames;

export interface KeyPolicy {
  tools: readonly string[] | null;
  projects: readonly string[] | null;
}

export const unrestrictedPolicy: KeyPolicy = Object.freeze({ tools: null, projects: null });

/** Nothing at all: what a stored policy that does not parse means (fail closed). */
const denyEverything: KeyPolicy = Object.freeze({ tools: [], projects: [] });

export const isUnrestricted = (policy: KeyPolicy): boolean =>
  policy.tools === null && policy.projects === null;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const jiraProjectKeyPattern = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;
const openProjectIdPattern = /^\d{1,18}$/;

/** What an API body or command line may send: lists, or null to lift a limit. */
export const toolListInput = z
  .array(z.string().trim().min(1).max(100))
  .min(1, 'allowed_tools needs at least one tool; send null to allow every tool')
  .max(policyToolNames.length)
  .nullable();
export const projectListInput = z
  .array(z.string().trim().min(1).max(200))
  .min(1, 'allowed_projects needs at least one entry; send null to allow every project')
  .max(200)
  .nullable();

/** A change of limits (a key's or a grant's): fields left out keep their value, null lifts. */
export const limitsBody = z
  .object({
    allowed_tools: toolListInput.optional(),
    allowed_projects: projectListInput.optional(),
  })
  .strict()
  .refine((body) => body.allowed_tools !== undefined || body.allowed_projects !== undefined, {
    message: 'Send allowed_tools and/or allowed_projects (a list, or null to lift the limit)',
  });

const storedList = z.array(z.string().min(1)).min(1).nullable();

/** The policy of a stored row. A value that does not parse allows nothing (never everything). */
export function policyFromRow(row: {
  allowed_tools: string | null;
  allowed_projects: string | null;
}): KeyPolicy {
  try {
    const tools = storedList.parse(
      row.allowed_tools === null ? null : JSON.parse(row.allowed_tools),
    );
    const projects = storedList.parse(
      row.allowed_projects === null ? null : JSON.parse(row.allowed_projects),
    );
    return { tools, projects };
  } catch {
    return denyEverything;
  }
}

export function policyColumns(policy: KeyPolicy): {
  allowed_tools: string | null;
  allowed_projects: string | null;
} {
  return {
    allowed_tools: policy.tools === null ? null : JSON.stringify(policy.tools),
    allowed_projects: policy.projects === null ? null : JSON.stringify(policy.projects),
  };
}

/**
 * Checks a requested policy and puts it in canonical form: tool names known (each once), project
 * entries well-shaped and on one of the user's own connections, Jira project keys in upper case.
 * `connectionsOf` lists the user's connections (id and type).
 */
export function validatePolicy(
  requested: { tools?: readonly string[] | null; projects?: readonly string[] | null },
  current: KeyPolicy,
  connections: readonly { id: string; providerType: ProviderType }[],
): KeyPolicy {
  let tools = current.tools;
  if (requested.tools !== undefined) {
    if (requested.tools === null) tools = null;
    else {
      const unknown = requested.tools.filter((name) => !policyToolNames.includes(name));
      if (unknown.length > 0) {
        throw new AppError(
          'validation_failed',
          `Unknown tool${unknown.length === 1 ? '' : 's'} in allowed_tools: ${unknown.map((name) => `"${name}"`).join(', ')}. The tools are: ${policyToolNames.join(', ')}.`,
        );
      }
      tools = [...new Set(requested.tools)];
    }
  }
  let projects = current.projects;
  if (requested.projects !== undefined) {
    if (requested.projects === null) projects = null;
    else {
      const byId = new Map(
        connections.map((connection) => [connection.id.toLowerCase(), connection]),
      );
      projects = [
        ...new Set(requested.projects.map((entry) => canonicalProjectEntry(entry, byId))),
      ];
    }
  }
  return { tools, projects };
}

function canonicalProjectEntry(
  entry: string,
  connections: ReadonlyMap<string, { id: string; providerType: ProviderType }>,
): string {
  const colon = entry.indexOf(':');
  const connectionId = colon === -1 ? entry : entry.slice(0, colon);
  const key = colon === -1 ? undefined : entry.slice(colon + 1);
  const shape =
    'Each allowed_projects entry is a connection id, or "<connection id>:<project key>" (a Jira project key such as PROJ, an OpenProject project id such as 3, as list_projects shows them)';
  if (!uuidPattern.test(connectionId)) {
    throw new AppError('validation_failed', `"${entry}" is not a project entry. ${shape}.`);
  }
  const connection = connections.get(connectionId.toLowerCase());
  if (!connection) {
    throw new AppError(
      'validation_failed',
      `allowed_projects names connection ${connectionId}, which is not one of your connections.`,
    );
  }
  if (key === undefined) return connection.id;
  if (connection.providerType === 'openproject') {
    if (!openProjectIdPattern.test(key)) {
      throw new AppError(
        'validation_failed',
        `"${entry}": OpenProject projects are named by their numeric id here (the key list_projects shows). ${shape}.`,
      );
    }
    return `${connection.id}:${key}`;
  }
  if (!jiraProjectKeyPattern.test(key)) {
    throw new AppError(
      'validation_failed',
      `"${entry}": "${key}" is not a Jira project key (like PROJ). ${shape}.`,
    );
  }
  return `${connection.id}:${key.toUpperCase()}`;
}

/**
 * The project allow-list of one request, in the form the tools ask it: may this connection be
 * touched at all, and if so is it whole or limited to some projects.
 */
export class ProjectScope {
  readonly #whole = new Set<string>();
  readonly #keys = new Map<string, Set<string>>();

  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) {
      const colon = entry.indexOf(':');
      const connectionId = (colon === -1 ? entry : entry.slice(0, colon)).toLowerCase();
      if (colon === -1) {
        this.#whole.add(connectionId);
        continue;
      }
      const keys = this.#keys.get(connectionId) ?? new Set<string>();
      keys.add(entry.slice(colon + 1).toUpperCase());
      this.#keys.set(connectionId, keys);
    }
  }

  allowsConnection(connectionId: string): boolean {
    const id = connectionId.toLowerCase();
    return this.#whole.has(id) || this.#keys.has(id);
  }

  /** Null: the whole connection; otherwise the only project keys allowed on it (maybe none). */
  projectKeysOf(connectionId: string): readonly string[] | null {
    const id = connectionId.toLowerCase();
    if (this.#whole.has(id)) return null;
    return [...(this.#keys.get(id) ?? [])];
  }

  allowsProject(connectionId: string, projectKey: string | null | undefined): boolean {
    const keys = this.projectKeysOf(connectionId);
    if (keys === null) return true;
    return (
      projectKey !== null && projectKey !== undefined && keys.includes(projectKey.toUpperCase())
    );
  }
}
