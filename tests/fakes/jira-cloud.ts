/**
 * A faithful fake of Jira Cloud's REST API v3 (see reference/pm-apis.md): Basic `email:api_token`,
 * ADF bodies, accountIds, `/project/search` with `startAt`/`isLast`, `/search/jql` with
 * `nextPageToken` and no total (empty or unbounded JQL → 400; the removed `/search` → 410), a dead
 * token answered as the anonymous user (200 + empty list + `X-Seraph-LoginReason:
 * AUTHENTICATED_FAILED`; 401 on `/myself`), and 429s with Jira's rate-limit headers.
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

export function startFakeJiraCloud(options: JiraFakeOptions = {}): Promise<JiraFake> {
  return startJiraFake('cloud', options);
}
