import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JiraFake } from '../fakes/jira-cloud.js';
import type { OpenProjectFake } from '../fakes/openproject.js';
import { createKey, registerAccount, type TestAccount } from '../support/http.js';
import { connectFakeProviders, startSeededFakes } from '../support/provider-fakes.js';
import { connectMcpClient, textOf, type McpClientLike } from '../support/mcp.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * A provider that accepts requests and never answers: every tool call on it ends within the
 * provider timeout (the documented bound: 10 s, shortened here), reads and writes alike, also
 * when the provider first asked to retry later; and the other provider keeps answering meanwhile.
 * The HTTP layer's own per-attempt timeout is left at its default (10 s), as deployed.
 */

const boundMs = 3_000;
/**
 * Timers on a loaded machine: the answer may come this much after the bound. Bound and slack stay
 * well under the 10 s one attempt may take (an unbounded write took 10.06 s and 11.07 s).
 */
const slackMs = 4_500;

interface ToolError {
  error?: { error_code?: string; message?: string };
  errors?: { error_code?: string; provider_type?: string }[];
  issues?: { id: string }[];
}

describe('a provider that hangs', () => {
  let server: TestServer;
  let jira: JiraFake;
  let openProject: OpenProjectFake;
  let account: TestAccount;
  let client: McpClientLike;
  let jiraId = '';
  let openProjectId = '';

  beforeAll(async () => {
    ({ jira, openProject } = await startSeededFakes());
    server = await startTestServer({ providerTimeoutMs: boundMs });
    account = await registerAccount(server.url);
    ({ jiraId, openProjectId } = await connectFakeProviders(server.url, account, {
      jira,
      openProject,
    }));
    const key = await createKey(server.url, account, { name: 'hang', scope: 'write' });
    client = await connectMcpClient(server.url, 'modern', {
      headers: { 'X-MCP-API-Key': key.api_key },
    });
  });

  afterAll(async () => {
    await client.close();
    await server.stop();
    await Promise.all([jira.stop(), openProject.stop()]);
  });

  const timed = async (name: string, args: Record<string, unknown>) => {
    const started = Date.now();
    const result = await client.callTool({ name, arguments: args });
    return {
      ms: Date.now() - started,
      isError: result.isError === true,
      text: textOf(result),
      data: (result.structuredContent ?? {}) as ToolError,
    };
  };

  it('ends reads and writes on it within the bound, and the other provider keeps answering', async () => {
    jira.setBehaviour({ hang: true });
    try {
      const hung = [
        timed('get_issue', { id: `${jiraId}:WEB-1` }),
        timed('create_issue', { project_id: `${jiraId}:WEB`, title: 'Never answered' }),
        timed('add_comment', { id: `${jiraId}:WEB-1`, body: 'Never answered' }),
        timed('search_issues', { text: 'Seeded' }),
      ];
      // Meanwhile, the other provider answers at once.
      const other = await timed('get_issue', { id: `${openProjectId}:1` });
      expect(other.isError).toBe(false);
      expect(other.ms).toBeLessThan(boundMs);

      const [read, create, comment, search] = await Promise.all(hung);
      for (const call of [read, create, comment, search]) {
        expect(call?.ms).toBeLessThan(boundMs + slackMs);
      }
      for (const call of [read, create, comment]) {
        expect(call?.isError).toBe(true);
        expect(call?.data.error?.error_code).toBe('provider_timeout');
      }
      // A write that timed out may still have been carried out by the provider: it says so.
      expect(create?.text).toMatch(/may or may not have been/);
      expect(comment?.text).toMatch(/may or may not have been/);
      // The fan-out keeps OpenProject's results and names Jira's timeout.
      expect(search?.isError).toBe(false);
      expect(search?.data.issues?.length).toBeGreaterThan(0);
      expect(search?.data.errors?.[0]?.error_code).toBe('provider_timeout');
      // The operator sees which calls hit the deadline, and after how long.
      expect(server.logs.join('')).toMatch(/"tool":"add_comment".*tool call reached its deadline/);
    } finally {
      jira.setBehaviour({ hang: false });
    }
  });

  it('counts retry waits inside the bound: a write asked to retry later that then hangs', async () => {
    // The first answer is a 429 asking for a 1 s pause; the retry then hangs.
    jira.setBehaviour({ rateLimitNext: { count: 1, retryAfterSeconds: 1 } });
    const hangAfterRetry = setInterval(() => {
      if (jira.behaviour.rateLimitNext?.count === 0) jira.setBehaviour({ hang: true });
    }, 10);
    try {
      const comment = await timed('add_comment', { id: `${jiraId}:WEB-1`, body: 'Retried' });
      expect(comment.isError).toBe(true);
      expect(comment.data.error?.error_code).toBe('provider_timeout');
      expect(comment.ms).toBeLessThan(boundMs + slackMs);
    } finally {
      clearInterval(hangAfterRetry);
      jira.setBehaviour({ hang: false, rateLimitNext: null });
    }
  });

  it('still answers normally once the provider answers again', async () => {
    const read = await timed('get_issue', { id: `${jiraId}:WEB-1` });
    expect(read.isError).toBe(false);
    expect(read.text).toMatch(/Seeded issue/);
  });
});
