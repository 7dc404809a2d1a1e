/**
 * SANDBOX providers: one fake Jira Cloud, one fake Jira Data Center and one fake OpenProject, on
 * 127.0.0.1, filled with small realistic demo data. Used by `npm run demo` (a demo account whose
 * connections point here) and by the benchmarks. Nothing here talks to a real Jira or OpenProject.
 */
import { startFakeJiraCloud } from './jira-cloud.js';
import { startFakeJiraDataCenter } from './jira-data-center.js';
import type { JiraFake, JiraFakeUser } from './jira-core.js';
import {
  startFakeOpenProject,
  type OpenProjectFake,
  type OpenProjectFakeUser,
} from './openproject.js';

export interface SandboxConnection {
  providerType: 'jira' | 'jira_server' | 'openproject';
  name: string;
  baseUrl: string;
  email?: string;
  apiToken: string;
}

export interface SandboxProviders {
  jiraCloud: JiraFake;
  jiraDataCenter: JiraFake;
  openProject: OpenProjectFake;
  /** What to create as the demo user's connections (sandbox credentials, not real ones). */
  connections: SandboxConnection[];
  stop(): Promise<void>;
}

const demoJiraUsers: JiraFakeUser[] = [
  {
    accountId: '712020:5f0c7b7e-demo-4c1d-9a11-000000000001',
    name: 'demo',
    displayName: 'Demo User',
    email: 'demo@pm-mcp.example',
    token: 'sandbox-jira-token-demo',
  },
  {
    accountId: '712020:5f0c7b7e-demo-4c1d-9a11-000000000002',
    name: 'priya',
    displayName: 'Priya Raman',
    email: 'priya@pm-mcp.example',
    token: 'sandbox-jira-token-priya',
  },
  {
    accountId: '712020:5f0c7b7e-demo-4c1d-9a11-000000000003',
    name: 'marco',
    displayName: 'Marco Rossi',
    email: 'marco@pm-mcp.example',
    token: 'sandbox-jira-token-marco',
  },
];

const demoOpenProjectUsers: OpenProjectFakeUser[] = [
  {
    id: 3,
    login: 'demo',
    firstName: 'Demo',
    lastName: 'User',
    email: 'demo@pm-mcp.example',
    token: 'sandbox-openproject-key-demo',
  },
  {
    id: 4,
    login: 'lena',
    firstName: 'Lena',
    lastName: 'Fischer',
    email: 'lena@pm-mcp.example',
    token: 'sandbox-openproject-key-lena',
  },
];

export async function startSandboxProviders(): Promise<SandboxProviders> {
  const jiraCloud = await startFakeJiraCloud({
    users: demoJiraUsers,
    projects: [
      { key: 'WEB', name: 'Website relaunch', description: 'The new marketing site' },
      { key: 'MOB', name: 'Mobile app', description: 'iOS and Android clients' },
      { key: 'OPS', name: 'Operations', description: 'Infrastructure and on-call' },
    ],
    versions: [
      { projectKey: 'WEB', name: '2.0', releaseDate: '2026-04-01', description: 'The relaunch' },
      { projectKey: 'WEB', name: '1.9', released: true, releaseDate: '2026-01-20' },
    ],
    boards: [{ projectKey: 'WEB', name: 'WEB sprints', type: 'scrum' }],
    sprints: [
      { board: 'WEB sprints', name: 'WEB Sprint 7', state: 'closed' },
      { board: 'WEB sprints', name: 'WEB Sprint 8', state: 'active', goal: 'Retina-ready hero' },
    ],
    customFields: [{ name: 'Story Points', type: 'number' }],
    issues: [
      {
        projectKey: 'WEB',
        fixVersions: ['2.0'],
        sprint: 'WEB Sprint 8',
        customFields: { 'Story Points': 3 },
        summary: 'Hero image is blurry on retina screens',
        description:
          'The hero uses a 1x asset.\n\n- Export a **2x** version\n- Serve it with `srcset`',
        status: 'In Progress',
        type: 'Bug',
        priority: 'High',
        assignee: 'demo',
        comments: [{ author: 'priya', body: 'Design exported the 2x files to the shared drive.' }],
      },
      {
        projectKey: 'WEB',
        summary: 'Add a cookie banner',
        status: 'To Do',
        type: 'Story',
        assignee: 'demo',
      },
      {
        projectKey: 'WEB',
        summary: 'Migrate blog posts',
        status: 'Done',
        type: 'Task',
        assignee: 'marco',
      },
      {
        projectKey: 'MOB',
        summary: 'Crash when opening settings offline',
        description: 'Steps:\n\n1. Turn on airplane mode\n2. Open *Settings*',
        status: 'In Review',
        type: 'Bug',
        priority: 'Highest',
        assignee: 'demo',
      },
      {
        projectKey: 'MOB',
        summary: 'Dark mode for the login screen',
        status: 'To Do',
        type: 'Story',
        assignee: 'priya',
      },
      {
        projectKey: 'OPS',
        summary: 'Rotate the staging TLS certificate',
        status: 'To Do',
        type: 'Task',
        priority: 'High',
        assignee: 'demo',
      },
    ],
  });

  const jiraDataCenter = await startFakeJiraDataCenter({
    users: demoJiraUsers.map((user) => ({ ...user, token: user.token.replace('jira', 'jira-dc') })),
    projects: [
      { key: 'FIN', name: 'Finance systems' },
      { key: 'HR', name: 'HR portal' },
    ],
    issues: [
      {
        projectKey: 'FIN',
        summary: 'Quarter-end export times out',
        description: 'The CSV export of Q3 takes over 60 s.',
        status: 'In Progress',
        type: 'Bug',
        assignee: 'demo',
      },
      {
        projectKey: 'FIN',
        summary: 'Add SEPA payment type',
        status: 'To Do',
        type: 'Story',
        assignee: 'marco',
      },
      {
        projectKey: 'HR',
        summary: 'Holiday calendar for 2026',
        status: 'To Do',
        type: 'Task',
        assignee: 'demo',
      },
    ],
  });

  const openProject = await startFakeOpenProject({
    users: demoOpenProjectUsers,
    projects: [
      {
        identifier: 'office-move',
        name: 'Office move',
        description: 'Moving to the new building in spring',
      },
      { identifier: 'research', name: 'Research', description: 'Prototypes and spikes' },
    ],
    versions: [
      { project: 'office-move', name: 'Phase 1: planning', status: 'closed' },
      { project: 'office-move', name: 'Phase 2: moving day', endDate: '2026-05-15' },
    ],
    workPackages: [
      {
        project: 'office-move',
        subject: 'Order standing desks',
        version: 'Phase 2: moving day',
        description: 'Twelve desks, **height-adjustable**.',
        status: 'In progress',
        assignee: 'demo',
        priority: 'High',
      },
      { project: 'office-move', subject: 'Book the movers', status: 'New', assignee: 'lena' },
      {
        project: 'office-move',
        subject: 'Network cabling plan',
        status: 'Closed',
        assignee: 'demo',
      },
      {
        project: 'research',
        subject: 'Evaluate vector databases',
        description: 'Compare three options for the search prototype.',
        status: 'New',
        type: 'Feature',
        assignee: 'demo',
        comments: [{ author: 'lena', body: 'I would add pgvector to the list.' }],
      },
    ],
  });

  return {
    jiraCloud,
    jiraDataCenter,
    openProject,
    connections: [
      {
        providerType: 'jira',
        name: 'Sandbox Jira Cloud',
        baseUrl: jiraCloud.url,
        email: 'demo@pm-mcp.example',
        apiToken: 'sandbox-jira-token-demo',
      },
      {
        providerType: 'jira_server',
        name: 'Sandbox Jira Data Center',
        baseUrl: jiraDataCenter.url,
        apiToken: 'sandbox-jira-dc-token-demo',
      },
      {
        providerType: 'openproject',
        name: 'Sandbox OpenProject',
        baseUrl: openProject.url,
        apiToken: 'sandbox-openproject-key-demo',
      },
    ],
    async stop() {
      await Promise.all([jiraCloud.stop(), jiraDataCenter.stop(), openProject.stop()]);
    },
  };
}
