import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerApp, type ServerApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { generateApiKey } from '../../server/keys/key-format.js';
import { startFakeJiraCloud, type JiraFake } from '../fakes/jira-cloud.js';
import { createPostgresSchema, databaseKinds, postgresUrl } from '../support/databases.js';
import { randomEmail, randomPassword, request } from '../support/http.js';
import { assertNoSecretsIn, testPasswordCost } from '../support/server.js';
import { ensureServerBuild, serverBin as bin } from '../support/server-build.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The operator's real command (`pm-mcp-server`), as a child process with its own environment. */
function runAdmin(env: Record<string, string>, args: string[], stdin = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      // From another folder, as an installed bin runs: it must find its own loader.
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** What a command printed on success. */
const json = (run: Run): unknown => {
  if (run.code !== 0) throw new Error(`exit ${String(run.code)}: ${run.stderr}`);
  return JSON.parse(run.stdout);
};

interface PrintedKey {
  id: string;
  api_key: string;
  key_prefix: string;
  name: string;
  scope: string;
  is_active: boolean;
  expires_at: string | null;
}

// Each command is a child process running the compiled build (as operators run it); on a busy
// machine a run can take seconds, so the bound is what the commands need, not a tight clock.
describe.each(databaseKinds)('the admin command line on %s', { timeout: 120_000 }, (database) => {
  const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-admin-'));
  let env: Record<string, string>;
  let dropSchema: (() => Promise<void>) | undefined;
  let server: ServerApp | undefined;
  let serverUrl: string;
  const logs: string[] = [];
  let jira: JiraFake;
  const email = randomEmail();
  const password = randomPassword();
  const printedKeys: string[] = [];
  /** `keys create` for this suite's user, with the given name and options. */
  const createKeyArgs = (name: string, ...options: string[]) => [
    'keys',
    'create',
    '--user',
    email,
    '--name',
    name,
    ...options,
  ];

  beforeAll(async () => {
    await ensureServerBuild();
    let databaseUrl = `sqlite:${path.join(folder, 'pm-mcp.sqlite')}`;
    if (database === 'postgres') {
      // A schema of its own, chosen the way an operator would: libpq's `options` in the URL.
      const schema = await createPostgresSchema();
      dropSchema = () => schema.drop();
      databaseUrl = `${postgresUrl}?options=${encodeURIComponent(`-c search_path=${schema.schema}`)}`;
    }
    env = {
      DATABASE_URL: databaseUrl,
      PM_MCP_SECRET_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: '0',
      // The fake Jira listens on loopback, refused as a provider address by default.
      PM_MCP_PROVIDER_ALLOWED_HOSTS: '127.0.0.1',
    };
    jira = await startFakeJiraCloud();
  }, 300_000);
  afterAll(async () => {
    await server?.stop();
    await jira.stop();
    const logText = logs.join('');
    assertNoSecretsIn(logText);
    for (const key of printedKeys) expect(logText).not.toContain(key);
    await dropSchema?.();
    rmSync(folder, { recursive: true, force: true });
  });

  it('migrate reports the migrations it applied, then nothing on a second run', async () => {
    const first = json(await runAdmin(env, ['migrate'])) as { applied: string[] };
    expect(first.applied.length).toBeGreaterThan(0);
    const again = json(await runAdmin(env, ['migrate'])) as { applied: string[] };
    expect(again.applied).toEqual([]);

    // The server on the same database, for checking what the commands did.
    server = createServerApp(loadConfig(env), {
      passwordCost: testPasswordCost,
      logDestination: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          logs.push(chunk.toString('utf8'));
          callback();
        },
      }),
    });
    serverUrl = (await server.start()).url;
  });

  it('users create reads the password from stdin; the user can sign in', async () => {
    const created = await runAdmin(
      env,
      ['users', 'create', '--email', email, '--name', 'Ops'],
      password,
    );
    const user = json(created);
    expect(user).toMatchObject({ email, name: 'Ops' });
    expect(created.stdout).not.toContain(password);
    expect(created.stdout).not.toMatch(/hash/i);
    const login = await request(serverUrl, 'POST', '/api/auth/login', {
      body: { email, password },
    });
    expect(login.status).toBe(200);

    const duplicate = await runAdmin(env, ['users', 'create', '--email', email], password);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/already/i);
    const short = await runAdmin(env, ['users', 'create', '--email', randomEmail()], 'short');
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('password: must be at least 8 characters');
  });

  it('keys create prints the key once; it authenticates with its scope and expiry', async () => {
    const run = await runAdmin(
      env,
      createKeyArgs('ci runner', '--scope', 'read', '--expires-days', '30'),
    );
    const key = json(run) as PrintedKey;
    printedKeys.push(key.api_key);
    expect(run.stderr).toContain('not shown again');
    expect(key).toMatchObject({ scope: 'read', name: 'ci runner' });
    expect(key.key_prefix).toBe(key.api_key.slice(0, 12));
    expect(Date.parse(key.expires_at ?? '')).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const me = await request(serverUrl, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': key.api_key },
    });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email });

    const listed = await runAdmin(env, ['keys', 'list', '--user', email]);
    expect(listed.stdout).not.toContain(key.api_key);
    expect((json(listed) as PrintedKey[]).map((item) => item.key_prefix)).toEqual([key.key_prefix]);
  });

  it('keys create --tools/--projects sets the limits, checked like the API', async () => {
    const run = await runAdmin(
      env,
      createKeyArgs('limited', '--tools', 'search_issues, get_issue'),
    );
    const key = json(run) as PrintedKey & { allowed_tools: string[] | null };
    printedKeys.push(key.api_key);
    expect(key.allowed_tools).toEqual(['search_issues', 'get_issue']);
    const listed = json(await runAdmin(env, ['keys', 'list', '--user', email])) as {
      id: string;
      allowed_tools: string[] | null;
      allowed_projects: string[] | null;
    }[];
    expect(listed.find((item) => item.id === key.id)).toMatchObject({
      allowed_tools: ['search_issues', 'get_issue'],
      allowed_projects: null,
    });
    const unknown = await runAdmin(env, createKeyArgs('bad', '--tools', 'search_issues,rm_rf'));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Unknown tool in allowed_tools: "rm_rf"');
    const badProject = await runAdmin(env, createKeyArgs('bad', '--projects', 'nope'));
    expect(badProject.code).toBe(1);
    expect(badProject.stderr).toContain('"nope" is not a project entry');
  });

  it('keys check tells active, revoked, unknown and malformed apart; revoke works by prefix', async () => {
    const key = json(await runAdmin(env, createKeyArgs('to revoke'))) as PrintedKey;
    printedKeys.push(key.api_key);
    expect(json(await runAdmin(env, ['keys', 'check'], key.api_key))).toMatchObject({
      status: 'active',
      owner: { email },
      key: { id: key.id },
    });

    const revoked = json(await runAdmin(env, ['keys', 'revoke', key.key_prefix])) as PrintedKey;
    expect(revoked).toMatchObject({ id: key.id, is_active: false });
    expect(json(await runAdmin(env, ['keys', 'check'], `${key.api_key}\n`))).toMatchObject({
      status: 'revoked',
    });
    const me = await request(serverUrl, 'GET', '/api/users/me', {
      headers: { 'x-mcp-api-key': key.api_key },
    });
    expect(me.status).toBe(401);

    // With a maximum lifetime (the default) a key without expiry is refused; without one it is made.
    const args = createKeyArgs('other', '--expires-days', 'none');
    const capped = await runAdmin(env, args);
    expect(capped.code).toBe(1);
    expect(capped.stderr).toContain('keys on this server expire within 365 days');
    const unlimited = {
      PM_MCP_KEY_DEFAULT_EXPIRY_DAYS: 'none',
      PM_MCP_KEY_MAX_EXPIRY_DAYS: 'none',
    };
    const other = json(await runAdmin({ ...env, ...unlimited }, args)) as PrintedKey;
    expect(other.expires_at).toBeNull();
    printedKeys.push(other.api_key);
    await runAdmin(env, ['keys', 'revoke', other.id]);
    const stored = json(await runAdmin(env, ['keys', 'check'], other.api_key)) as {
      status: string;
    };
    expect(stored.status).toBe('revoked');
    // A well-formed key that was never issued, and a mistyped one.
    expect(json(await runAdmin(env, ['keys', 'check'], generateApiKey()))).toEqual({
      status: 'unknown',
    });
    expect(json(await runAdmin(env, ['keys', 'check'], `mcp_${'x'.repeat(49)}`))).toEqual({
      status: 'malformed',
    });
  });

  it('providers list shows the connections of that user, without credentials', async () => {
    const jiraUser = jira.state.users[0];
    if (!jiraUser) throw new Error('the fake has no users');
    const login = await request<{ access_token: string }>(serverUrl, 'POST', '/api/auth/login', {
      body: { email, password },
    });
    const added = await request(serverUrl, 'POST', '/api/users/me/providers', {
      headers: { authorization: `Bearer ${login.body.access_token}` },
      body: {
        provider_type: 'jira',
        name: 'Work Jira',
        base_url: jira.url,
        email: jiraUser.email,
        api_token: jiraUser.token,
      },
    });
    expect(added.status).toBe(201);
    const listed = await runAdmin(env, ['providers', 'list', '--user', email]);
    expect(json(listed)).toMatchObject([
      { provider_type: 'jira', name: 'Work Jira', base_url: jira.url, last_check_ok: true },
    ]);
    expect(listed.stdout).not.toContain(jiraUser.token);
  });

  it('names the problem and exits 1 for an unknown user, a bad option or a bad setting', async () => {
    const nobody = await runAdmin(env, ['keys', 'list', '--user', 'nobody@example.test']);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('User nobody@example.test not found');

    const scope = await runAdmin(env, createKeyArgs('x', '--scope', 'admin'));
    expect(scope.code).toBe(1);
    expect(scope.stderr).toContain('--scope must be read or write');

    const days = await runAdmin(env, createKeyArgs('x', '--expires-days', 'soon'));
    expect(days.code).toBe(1);
    expect(days.stderr).toContain("option '--expires-days <n>' argument 'soon' is invalid");

    const missing = await runAdmin(env, ['keys', 'create', '--user', email]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("required option '--name <name>' not specified");

    const unreachable = await runAdmin({ ...env, DATABASE_URL: 'postgres://pm@127.0.0.1:1/x' }, [
      'migrate',
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(
      'pm-mcp-server: cannot reach the database: connect ECONNREFUSED 127.0.0.1:1',
    );

    const badConfig = await runAdmin({ ...env, LOG_LEVEL: 'loud' }, ['migrate']);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toContain('LOG_LEVEL');

    const help = await runAdmin(env, ['--help']);
    expect(help.code).toBe(0);
    for (const command of ['serve', 'migrate', 'users', 'keys', 'providers'])
      expect(help.stdout).toContain(command);
  });
});
