/**
 * A faithful fake of Jira Data Center / Server's REST API v2 (see reference/pm-apis.md):
 * `Authorization: Bearer <PAT>`, plain-string descriptions and comments, users by `name`,
 * `/project` as a plain unpaginated array, `/search` with `startAt`/`maxResults`/`total` (no
 * `/search/jql`), the same Seraph dead-credential behaviour as Cloud, and optional 429s with
 * `retry-after` and Data Center's rate-limit headers.
 */
import { startJiraFake, type JiraFake, type JiraFakeOptions } from './jira-core.js';

export {
  defaultJiraStatuses,
  defaultJiraUsers,
  defaultJiraWorkflow,
  seedJiraIssues,
  seedJiraProjects,
  type JiraFake,
  type JiraFakeIssueSeed,
  type JiraFakeOptions,
  type JiraFakeProjectSeed,
  type JiraFakeUser,
  type StoredJiraIssue,
} from './jira-core.js';

export function startFakeJiraDataCenter(options: JiraFakeOptions = {}): Promise<JiraFake> {
  return startJiraFake('data-center', options);
}
