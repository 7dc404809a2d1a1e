/**
 * Jira Cloud, REST API v3: Basic `email:api_token`, rich text as ADF (markdown in through
 * marklassian, markdown out through our walker), users by `accountId`, issues through
 * `/search/jql` (`nextPageToken`, no total) and projects through `/project/search`
 * (`startAt`/`isLast`).
 */
import { z } from 'zod';
import { ProviderHttp, type ProviderHttpOptions } from '../http.js';
import type { Page, Project } from '../types.js';
import { adfToMarkdown, markdownToAdf } from './adf.js';
import {
  JiraClient,
  jiraIssueSchema,
  jiraProjectSchema,
  startAtFrom,
  type JiraFlavour,
} from './common.js';

const projectSearchSchema = z.object({
  startAt: z.number(),
  total: z.number().optional(),
  isLast: z.boolean(),
  values: z.array(jiraProjectSchema),
});

const searchJqlSchema = z.object({
  issues: z.array(jiraIssueSchema),
  nextPageToken: z.string().nullish(),
  isLast: z.boolean().optional(),
});

/** Largest page Jira Cloud's `/project/search` gives. */
const maxProjectPage = 100;

export const jiraCloudFlavour: JiraFlavour = {
  providerType: 'jira',
  apiPrefix: '/rest/api/3',
  richTextIn: markdownToAdf,
  richTextOut: adfToMarkdown,
  userId: (user) => user.accountId,
  userRef: (accountId) => ({ accountId }),
  userSearchParam: 'query',

  async searchPage(http, { jql, fields, cursor, limit }, { signal }) {
    const page = await http.request({
      method: 'GET',
      path: '/rest/api/3/search/jql',
      query: { jql, fields, maxResults: limit, nextPageToken: cursor },
      schema: searchJqlSchema,
      signal,
    });
    const nextCursor = page.isLast === true ? null : (page.nextPageToken ?? null);
    return { items: page.issues, nextCursor, total: null };
  },

  async listProjects(http, { query, cursor, limit }, { signal }): Promise<Page<Project>> {
    const startAt = startAtFrom(cursor);
    const page = await http.request({
      method: 'GET',
      path: '/rest/api/3/project/search',
      query: {
        startAt,
        maxResults: Math.min(limit, maxProjectPage),
        query: query?.trim() || undefined,
        orderBy: 'key',
      },
      schema: projectSearchSchema,
      signal,
    });
    const items = page.values.map((project) => ({
      key: project.key,
      name: project.name,
      providerId: project.id,
      description: project.description ?? null,
      url: `${http.baseUrl}/browse/${encodeURIComponent(project.key)}`,
    }));
    const nextCursor =
      page.isLast || page.values.length === 0 ? null : String(page.startAt + page.values.length);
    return { items, nextCursor, total: page.total ?? null };
  },
};

export interface JiraCloudSettings {
  baseUrl: string;
  email: string;
  apiToken: string;
}

export function createJiraCloudClient(
  settings: JiraCloudSettings,
  httpOptions: ProviderHttpOptions = {},
): JiraClient {
  const basic = Buffer.from(`${settings.email}:${settings.apiToken}`, 'utf8').toString('base64');
  const http = new ProviderHttp(
    { providerType: 'jira', baseUrl: settings.baseUrl, authorization: `Basic ${basic}` },
    httpOptions,
  );
  return new JiraClient({ http, flavour: jiraCloudFlavour });
}
