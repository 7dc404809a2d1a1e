import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkProviderCredentials, UnsafeProviderUrlError } from '../../server/providers/index.js';
import { defaultJiraUsers, startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import {
  defaultOpenProjectUsers,
  startFakeOpenProject,
  type OpenProjectFake,
} from '../fakes/openproject.js';
import { defined, fastHttp } from './support.js';

const alice = defined(defaultJiraUsers[0], 'alice');
const carol = defined(defaultOpenProjectUsers[0], 'carol');

describe('checkProviderCredentials (what the connections API calls before saving)', () => {
  let jira: JiraFake;
  let op: OpenProjectFake;

  beforeAll(async () => {
    jira = await startFakeJiraCloud();
    op = await startFakeOpenProject();
  });
  afterAll(async () => {
    await Promise.all([jira.stop(), op.stop()]);
  });

  it('accepts a working credential and names the account', async () => {
    const result = await checkProviderCredentials(
      { providerType: 'jira', baseUrl: jira.url, email: alice.email, apiToken: alice.token },
      fastHttp,
    );
    expect(result).toEqual({
      ok: true,
      message: 'Signed in to Jira Cloud as Alice Example <alice@example.com>.',
      account: { id: alice.accountId, displayName: 'Alice Example', email: alice.email },
    });
    const op2 = await checkProviderCredentials(
      { providerType: 'openproject', baseUrl: op.url, apiToken: carol.token },
      fastHttp,
    );
    expect(op2.ok).toBe(true);
  });

  it("refuses a bad one with the provider's reason and a stable code", async () => {
    const result = await checkProviderCredentials(
      { providerType: 'openproject', baseUrl: op.url, apiToken: 'wrong-key' },
      fastHttp,
    );
    expect(result).toEqual({
      ok: false,
      code: 'provider_auth_failed',
      message: expect.stringContaining(
        'You need to be authenticated to access this resource.',
      ) as unknown,
    });
    expect(JSON.stringify(result)).not.toContain('wrong-key');
  });

  it('refuses a Jira Cloud connection without an email', async () => {
    const result = await checkProviderCredentials(
      { providerType: 'jira', baseUrl: jira.url, apiToken: alice.token },
      fastHttp,
    );
    expect(result).toEqual({
      ok: false,
      code: 'provider_validation_failed',
      message: 'A Jira Cloud connection needs the account email.',
    });
  });

  it('throws for a metadata base URL instead of calling it a provider refusal', async () => {
    await expect(
      checkProviderCredentials(
        { providerType: 'jira_server', baseUrl: 'http://169.254.169.254', apiToken: 't' },
        fastHttp,
      ),
    ).rejects.toBeInstanceOf(UnsafeProviderUrlError);
  });
});
