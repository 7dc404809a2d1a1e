/**
 * Jira Data Center / Server, REST API v2: `Authorization: Bearer <personal access token>`, rich
 * text as a plain (wiki-markup) string, users by `name`, issues through `/search`
 * (`startAt`/`total`) and projects from `/project`, a plain unpaginated array that this client
 * filters and pages itself so the caller still gets a cursor.
 */
import { z } from 'zod';
import { ProviderHttp, type ProviderHttpOptions } from '../http.js';
import type { Page, Project } from '../types.js';
import {
  JiraClient,
  jiraIssueSchema,
  jiraProjectSchema,
  startAtFrom,
  type JiraFlavour,
} from './common.js';

const searchSchema = z.object({
  startAt: z.number(),
  total: z.number(),
  issues: z.array(jiraIssueSchema),
});

function plainText(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export const jiraDataCenterFlavour: JiraFlavour = {
  providerType: 'jira_server',
  apiPrefix: '/rest/api/2',
  richTextIn: (markdown) => markdown,
  richTextOut: plainText,
  userId: (user) => user.name,
  userRef: (name) => ({ name }),
  userSearchParam: 'username',

  async searchPage(http, { jql, fields, cursor, limit }, { signal }) {
    const startAt = startAtFrom(cursor);
    const page = await http.request({
      method: 'GET',
      path: '/rest/api/2/search',
      query: { jql, fields, startAt, maxResults: limit },
      schema: searchSchema,
      signal,
    });
    const next = page.startAt + page.issues.length;
    const nextCursor = page.issues.length > 0 && next < page.total ? String(next) : null;
    return { items: page.issues, nextCursor, total: page.total };
  },

  async listProjects(http, { query, cursor, limit }, { signal }): Promise<Page<Project>> {
    const startAt = startAtFrom(cursor);
    const projects = await http.request({
      method: 'GET',
      path: '/rest/api/2/project',
      schema: z.array(jiraProjectSchema),
      signal,
    });
    const needle = query?.trim().toLowerCase();
    const matching = (
      needle
        ? projects.filter(
            (project) =>
              project.key.toLowerCase().includes(needle) ||
              project.name.toLowerCase().includes(needle),
          )
        : projects
    ).sort((a, b) => a.key.localeCompare(b.key));
    const items = matching.slice(startAt, startAt + limit).map((project) => ({
      key: project.key,
      name: project.name,
      providerId: project.id,
      description: project.description ?? null,
      url: `${http.baseUrl}/browse/${encodeURIComponent(project.key)}`,
    }));
    const next = startAt + items.length;
    return {
      items,
      nextCursor: items.length > 0 && next < matching.length ? String(next) : null,
      total: matching.length,
    };
  },
};

export interface JiraDataCenterSettings {
  baseUrl: string;
  /** A personal access token (Jira 8.14+). */
  apiToken: string;
}

export function createJiraDataCenterClient(
  settings: JiraDataCenterSettings,
  httpOptions: ProviderHttpOptions = {},
): JiraClient {
  const http = new ProviderHttp(
    {
      providerType: 'jira_server',
      baseUrl: settings.baseUrl,
      authorization: `Bearer ${settings.apiToken}`,
    },
    httpOptions,
  );
  return new JiraClient({ http, flavour: jiraDataCenterFlavour });
}
