/**
 * The result size bound: a list page whose items would exceed `maxListResultChars` of JSON ends
 * early, and `next_cursor` carries on from the first item left out — nothing lost, nothing twice —
 * on a provider with page tokens (Jira Cloud) and one with page numbers (OpenProject).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxListResultChars } from '../../server/mcp/tools/context.js';
import type { ToolConnection } from '../../server/mcp/tools/index.js';
import { startFakeJiraCloud } from '../fakes/jira-cloud.js';
import { defaultJiraUsers } from '../fakes/jira-core.js';
import { defaultOpenProjectUsers, startFakeOpenProject } from '../fakes/openproject.js';
import { defined } from '../providers/support.js';
import { connectTools, contextOver, toolConnection, type ConnectedTools } from './support.js';

const alice = defined(defaultJiraUsers[0], 'alice');
const carol = defined(defaultOpenProjectUsers[0], 'carol');
const big = (index: number, field: number): string =>
  `issue ${index} field ${field} `.padEnd(5_000, 'x');
const issueCount = 30;

const cases = [
  {
    label: 'Jira Cloud',
    async start() {
      const fake = await startFakeJiraCloud({
        projects: [{ key: 'BIG', name: 'Big' }],
        customFields: [1, 2, 3].map((n) => ({ name: `Notes ${n}`, type: 'string' })),
        issues: Array.from({ length: issueCount }, (_, index) => ({
          projectKey: 'BIG',
          summary: `Big issue ${index + 1}`,
          customFields: Object.fromEntries([1, 2, 3].map((n) => [`Notes ${n}`, big(index, n)])),
        })),
      });
      const connection = toolConnection({
        providerType: 'jira',
        name: 'Cloud',
        baseUrl: fake.url,
        email: alice.email,
        apiToken: alice.token,
      });
      return { fake, connection, project: 'BIG' };
    },
  },
  {
    label: 'OpenProject',
    async start() {
      const fake = await startFakeOpenProject({
        projects: [{ identifier: 'big', name: 'Big' }],
        customFields: [1, 2, 3].map((n) => ({ name: `Notes ${n}`, type: 'String' })),
        workPackages: Array.from({ length: issueCount }, (_, index) => ({
          project: 'big',
          subject: `Big issue ${index + 1}`,
          customFields: Object.fromEntries([1, 2, 3].map((n) => [`Notes ${n}`, big(index, n)])),
        })),
      });
      const connection = toolConnection({
        providerType: 'openproject',
        name: 'OP',
        baseUrl: fake.url,
        apiToken: carol.token,
      });
      return { fake, connection, project: '1' };
    },
  },
];

describe.each(cases)('result size bound on $label', (providerCase) => {
  let stop: () => Promise<void>;
  let connection: ToolConnection;
  let project: string;
  let tools: ConnectedTools;

  beforeAll(async () => {
    const started = await providerCase.start();
    stop = () => started.fake.stop();
    connection = started.connection;
    project = started.project;
    tools = await connectTools(contextOver([connection]));
  });
  afterAll(async () => {
    await tools.close();
    await stop();
  });

  it('cuts a page that would be too large and continues from the first item left out', async () => {
    const titles: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const result = await tools.call<{
        issues: { title: string; fields: Record<string, string> }[];
        next_cursor: string | null;
      }>('search_issues', {
        project_id: `${connection.id}:${project}`,
        fields: ['title', 'Notes 1', 'Notes 2', 'Notes 3'],
        limit: 50,
        ...(cursor ? { cursor } : {}),
      });
      expect(result.isError).toBe(false);
      expect(JSON.stringify(result.structured).length).toBeLessThanOrEqual(maxListResultChars);
      expect(result.structured.issues.length).toBeGreaterThan(0);
      // Each provider field value is cut to its own bound, with a visible marker.
      expect(result.structured.issues[0]?.fields['Notes 1']).toContain('[truncated:');
      titles.push(...result.structured.issues.map((issue) => issue.title));
      cursor = result.structured.next_cursor ?? undefined;
      pages++;
    } while (cursor && pages < 10);
    // 30 items of ~3.3 kB do not fit in one result: more than one page, every item exactly once.
    expect(pages).toBeGreaterThan(1);
    expect(titles).toHaveLength(issueCount);
    expect(new Set(titles).size).toBe(issueCount);
  });
});
