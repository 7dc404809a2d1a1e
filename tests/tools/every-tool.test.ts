import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolConnection } from '../../server/mcp/tools/index.js';
import type { RecordedRequest } from '../fakes/fake-server.js';
import { defaultJiraUsers, seedJiraProjects, startFakeJiraCloud } from '../fakes/jira-cloud.js';
import { startFakeJiraDataCenter } from '../fakes/jira-data-center.js';
import {
  defaultOpenProjectUsers,
  seedOpenProjectProjects,
  startFakeOpenProject,
} from '../fakes/openproject.js';
import { defined } from '../providers/support.js';
import { protocolEras } from '../support/mcp.js';
import { closeToolsOverFake, openToolsOverFake, type ConnectedTools } from './support.js';

interface RunningFake {
  url: string;
  requests: RecordedRequest[];
  recordedText(): string;
  stop(): Promise<void>;
}

interface ProviderCase {
  type: 'jira' | 'jira_server' | 'openproject';
  label: string;
  start(): Promise<RunningFake>;
  email?: string;
  token: string;
  projectKey: string;
  /** The seeded "Fix login bug": open, assigned to the caller, six comments. */
  loginBugKey: string;
  targetStatus: string;
  createPath: string;
  /** What the fake must have received as the created issue's description. */
  expectSentDescription(body: unknown): void;
}

const alice = defined(defaultJiraUsers[0], 'alice');
const carol = defined(defaultOpenProjectUsers[0], 'carol');
const comments = (author: string) =>
  Array.from({ length: 6 }, (_, index) => ({ author, body: `Comment number ${index + 1}` }));

const jiraSeed = {
  projects: [{ key: 'WEB', name: 'Website' }, ...seedJiraProjects(5)],
  issues: [
    {
      projectKey: 'WEB',
      summary: 'Fix login bug',
      description: 'Users are **logged out** at random.',
      status: 'To Do',
      assignee: 'alice',
      comments: comments('bob'),
    },
    { projectKey: 'WEB', summary: 'Write docs', status: 'Done', assignee: 'alice' },
    { projectKey: 'WEB', summary: 'Bob task', status: 'To Do', assignee: 'bob' },
  ],
};

const cases: ProviderCase[] = [
  {
    type: 'jira',
    label: 'Jira Cloud',
    start: () => startFakeJiraCloud(jiraSeed),
    email: alice.email,
    token: alice.token,
    projectKey: 'WEB',
    loginBugKey: 'WEB-1',
    targetStatus: 'In Progress',
    createPath: '/rest/api/3/issue',
    expectSentDescription: (body) => {
      const description = (body as { fields: { description: unknown } }).fields.description;
      expect(description).toMatchObject({ type: 'doc', version: 1 });
    },
  },
  {
    type: 'jira_server',
    label: 'Jira Data Center',
    start: () => startFakeJiraDataCenter(jiraSeed),
    token: alice.token,
    projectKey: 'WEB',
    loginBugKey: 'WEB-1',
    targetStatus: 'In Progress',
    createPath: '/rest/api/2/issue',
    expectSentDescription: (body) => {
      expect((body as { fields: { description: unknown } }).fields.description).toBe(
        'Steps: **click** login',
      );
    },
  },
  {
    type: 'openproject',
    label: 'OpenProject',
    start: () =>
      startFakeOpenProject({
        projects: [{ identifier: 'web', name: 'Website' }, ...seedOpenProjectProjects(5)],
        workPackages: [
          {
            project: 'web',
            subject: 'Fix login bug',
            description: 'Users are **logged out** at random.',
            status: 'New',
            assignee: 'carol',
            comments: comments('dave'),
          },
          { project: 'web', subject: 'Write docs', status: 'Closed', assignee: 'carol' },
          { project: 'web', subject: 'Bob task', status: 'New', assignee: 'dave' },
        ],
      }),
    token: carol.token,
    projectKey: '1',
    loginBugKey: '1',
    targetStatus: 'In review',
    createPath: '/api/v3/work_packages',
    expectSentDescription: (body) => {
      expect((body as { description: unknown }).description).toEqual({
        format: 'markdown',
        raw: 'Steps: **click** login',
      });
    },
  },
];

interface IssueItem {
  id: string;
  key: string;
  title: string;
  status: string;
  is_closed: boolean;
  connection_id: string;
  connection_name: string;
  provider_type: string;
}

// The same tools in both protocol eras: 2026-07-28 (per request) and 2025 (initialize handshake).
const casesByEra = cases.flatMap((providerCase) =>
  protocolEras.map((era) => ({ ...providerCase, era })),
);

describe.each(casesByEra)('every PM tool against $label, $era era', (providerCase) => {
  let fake: RunningFake;
  let connection: ToolConnection;
  let tools: ConnectedTools;
  const id = (key: string): string => `${connection.id}:${key}`;

  beforeAll(async () => {
    ({ fake, connection, tools } = await openToolsOverFake(providerCase));
  });
  afterAll(async () => {
    expect(fake.recordedText()).not.toMatch(/mcp_/);
    await closeToolsOverFake({ fake, connection, tools }, providerCase.token);
  });

  it('list_providers shows the connection, its type and last check, never the token', async () => {
    const result = await tools.call<{ providers: Record<string, unknown>[] }>('list_providers', {
      check: true,
    });
    expect(result.isError).toBe(false);
    expect(result.structured.providers).toEqual([
      expect.objectContaining({
        id: connection.id,
        provider_type: providerCase.type,
        is_active: true,
        last_check_ok: true,
        check: expect.objectContaining({ ok: true }) as unknown,
      }),
    ]);
    expect(result.text).toContain(`Team ${providerCase.label} (${providerCase.label})`);
  });

  it('list_projects pages through more than two pages with an opaque cursor', async () => {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const result = await tools.call<{ projects: { id: string }[]; next_cursor: string | null }>(
        'list_projects',
        {
          limit: 2,
          ...(cursor ? { cursor } : {}),
        },
      );
      expect(result.isError).toBe(false);
      ids.push(...result.structured.projects.map((project) => project.id));
      cursor = result.structured.next_cursor ?? undefined;
      if (cursor) expect(result.text).toContain(`cursor "${cursor}"`);
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(ids).toHaveLength(6);
    expect(ids).toContain(id(providerCase.projectKey));
    expect(ids.every((value) => value.startsWith(`${connection.id}:`))).toBe(true);
  });

  it('search_issues by text, status and assignee, inside one project', async () => {
    const byText = await tools.call<{ issues: IssueItem[] }>('search_issues', { text: 'login' });
    expect(byText.structured.issues.map((issue) => issue.title)).toEqual(['Fix login bug']);
    expect(byText.structured.issues[0]).toMatchObject({
      id: id(providerCase.loginBugKey),
      connection_id: connection.id,
      provider_type: providerCase.type,
    });
    expect(byText.text).toContain(`${id(providerCase.loginBugKey)} [`);

    const closed = await tools.call<{ issues: IssueItem[] }>('search_issues', {
      project_id: id(providerCase.projectKey),
      status: 'closed',
    });
    expect(closed.structured.issues.map((issue) => issue.title)).toEqual(['Write docs']);
    expect(closed.structured.issues[0]?.is_closed).toBe(true);

    const mineOpen = await tools.call<{ issues: IssueItem[] }>('search_issues', {
      assignee: 'me',
      status: 'open',
    });
    expect(mineOpen.structured.issues.map((issue) => issue.title)).toEqual(['Fix login bug']);
  });

  it('list_my_issues lists only my open issues', async () => {
    const result = await tools.call<{ issues: IssueItem[]; errors: unknown[] }>('list_my_issues');
    expect(result.structured.issues.map((issue) => issue.title)).toEqual(['Fix login bug']);
    expect(result.structured.errors).toEqual([]);
    expect(result.text).toMatch(/^1 open issue assigned to you from Team /);
  });

  it('get_issue shows description, status, assignee and the latest comments', async () => {
    const result = await tools.call<{
      issue: {
        description: string;
        comment_count: number;
        comments: { body: string }[];
        assignee: string;
      };
    }>('get_issue', {
      id: id(providerCase.loginBugKey),
    });
    expect(result.isError).toBe(false);
    expect(result.structured.issue.description).toContain('logged out');
    expect(result.structured.issue.comment_count).toBe(6);
    expect(result.structured.issue.comments.map((comment) => comment.body)).toEqual(
      [2, 3, 4, 5, 6].map((n) => `Comment number ${n}`),
    );
    expect(result.text).toContain('Comments (latest 5 of 6, oldest first):');
    expect(result.text).toContain(`Connection: Team ${providerCase.label} (${providerCase.label})`);
  });

  it('create_issue sends the description in the provider’s own format', async () => {
    const result = await tools.call<{
      issue: { id: string; title: string; description: string; assignee: string };
    }>('create_issue', {
      project_id: id(providerCase.projectKey),
      title: 'Login button misaligned',
      description: 'Steps: **click** login',
      assignee: 'me',
    });
    expect(result.isError).toBe(false);
    expect(result.structured.issue).toMatchObject({
      title: 'Login button misaligned',
      description: 'Steps: **click** login',
    });
    expect(result.structured.issue.id.startsWith(`${connection.id}:`)).toBe(true);
    expect(result.text).toMatch(/^Created /);
    const post = fake.requests
      .filter((request) => request.method === 'POST' && request.path === providerCase.createPath)
      .at(-1);
    providerCase.expectSentDescription(post?.body);
  });

  it('update_issue changes the title and the assignee', async () => {
    const result = await tools.call<{ issue: { title: string; assignee: string | null } }>(
      'update_issue',
      {
        id: id(providerCase.loginBugKey),
        title: 'Fix the login bug',
        assignee: 'none',
      },
    );
    expect(result.isError).toBe(false);
    expect(result.structured.issue).toMatchObject({ title: 'Fix the login bug', assignee: null });
    const nothing = await tools.call('update_issue', { id: id(providerCase.loginBugKey) });
    expect(nothing.isError).toBe(true);
    expect(nothing.text).toContain('Nothing to change');
  });

  it('transition_issue moves by status name and lists the reachable statuses on a mismatch', async () => {
    const moved = await tools.call<{ status: string }>('transition_issue', {
      id: id(providerCase.loginBugKey),
      status: providerCase.targetStatus.toLowerCase(),
    });
    expect(moved.isError).toBe(false);
    expect(moved.structured.status).toBe(providerCase.targetStatus);
    expect(moved.text).toBe(
      `${id(providerCase.loginBugKey)} is now "${providerCase.targetStatus}".`,
    );

    const wrong = await tools.call<{ error: { error_code: string; reachable_statuses: string[] } }>(
      'transition_issue',
      {
        id: id(providerCase.loginBugKey),
        status: 'Teleported',
      },
    );
    expect(wrong.isError).toBe(true);
    expect(wrong.structured.error.error_code).toBe('unknown_status');
    expect(wrong.structured.error.reachable_statuses.length).toBeGreaterThan(0);
    expect(wrong.text).toContain(
      `Reachable statuses: ${wrong.structured.error.reachable_statuses.join(', ')}.`,
    );
  });

  it('add_comment adds a markdown comment', async () => {
    const result = await tools.call<{ comment: { body: string }; issue_id: string }>(
      'add_comment',
      {
        id: id(providerCase.loginBugKey),
        body: 'Reproduced on **Firefox**',
      },
    );
    expect(result.isError).toBe(false);
    expect(result.structured).toMatchObject({
      issue_id: id(providerCase.loginBugKey),
      comment: { body: 'Reproduced on **Firefox**' },
    });
    const after = await tools.call<{ issue: { comments: { body: string }[] } }>('get_issue', {
      id: id(providerCase.loginBugKey),
    });
    expect(after.structured.issue.comments.at(-1)?.body).toBe('Reproduced on **Firefox**');
  });

  it('get_issue of a missing issue says so, naming the provider', async () => {
    const missing = await tools.call<{ error: { error_code: string } }>('get_issue', {
      id: id(providerCase.type === 'openproject' ? '999' : 'WEB-999'),
    });
    expect(missing.isError).toBe(true);
    expect(missing.structured.error.error_code).toBe('provider_not_found');
    expect(missing.text).toContain(providerCase.label);
  });
});
