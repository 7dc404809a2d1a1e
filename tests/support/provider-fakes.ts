import { startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import { startFakeOpenProject, type OpenProjectFake } from '../fakes/openproject.js';
import { addConnection, type TestAccount } from './http.js';

/** A fake Jira Cloud (project WEB, issue WEB-1) and OpenProject (project web, work package 1). */
export async function startSeededFakes(): Promise<{
  jira: JiraFake;
  openProject: OpenProjectFake;
}> {
  const jira = await startFakeJiraCloud({
    projects: [{ key: 'WEB', name: 'Website' }],
    issues: [{ projectKey: 'WEB', summary: 'Seeded issue', status: 'To Do' }],
  });
  const openProject = await startFakeOpenProject({
    projects: [{ identifier: 'web', name: 'Website' }],
    workPackages: [{ project: 'web', subject: 'Seeded work package' }],
  });
  return { jira, openProject };
}

/** The fakes (their first users) as the account's connections. */
export async function connectFakeProviders(
  baseUrl: string,
  account: TestAccount,
  fakes: {
    jira: { url: string; state: { users: { email: string; token: string }[] } };
    openProject: { url: string; state: { users: { token: string }[] } };
  },
): Promise<{ jiraId: string; openProjectId: string }> {
  const jiraUser = fakes.jira.state.users[0];
  const opUser = fakes.openProject.state.users[0];
  if (!jiraUser || !opUser) throw new Error('fakes without users');
  const jiraId = await addConnection(baseUrl, account, {
    provider_type: 'jira',
    name: 'Team Jira',
    base_url: fakes.jira.url,
    email: jiraUser.email,
    api_token: jiraUser.token,
  });
  const openProjectId = await addConnection(baseUrl, account, {
    provider_type: 'openproject',
    name: 'Team OpenProject',
    base_url: fakes.openProject.url,
    api_token: opUser.token,
  });
  return { jiraId, openProjectId };
}
