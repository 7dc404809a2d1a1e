import { createKey, registerAccount, request, type TestAccount } from '../../tests/support/http.js';
import { initializeRequest, mcpHeaders } from '../load.js';

/** What a benchmark needs on a running server before it loads it: an account, a key, a session. */

export interface BenchUser {
  account: TestAccount;
  /** The plaintext key (held in memory, sent only to the server and the load generator). */
  apiKey: string;
}

export async function createBenchUser(baseUrl: string): Promise<BenchUser> {
  const account = await registerAccount(baseUrl, 'Bench User');
  const key = await createKey(baseUrl, account, { name: 'bench', expires_in_days: 30 });
  return { account, apiKey: key.api_key };
}

/**
 * Opens a Streamable HTTP session (initialize + initialized) and returns the headers that carry
 * it: `Mcp-Session-Id` from a stateful server (the bare SDK baseline), none from the stateless
 * PM MCP server (every request stands alone).
 */
export async function openMcpSession(
  url: string,
  headers: Record<string, string>,
): Promise<Record<string, string>> {
  const init = await request(url, 'POST', '/mcp', {
    body: initializeRequest(1),
    headers: mcpHeaders(headers),
  });
  if (init.status !== 200)
    throw new Error(`initialize failed: ${init.status} ${init.text.slice(0, 300)}`);
  const sessionId = init.headers.get('mcp-session-id');
  const session: Record<string, string> = sessionId === null ? {} : { 'mcp-session-id': sessionId };
  const ack = await request(url, 'POST', '/mcp', {
    body: { jsonrpc: '2.0', method: 'notifications/initialized' },
    headers: mcpHeaders({ ...headers, ...session }),
  });
  if (ack.status !== 202) throw new Error(`initialized failed: ${ack.status} ${ack.text}`);
  return session;
}

/** Calls a tool once and returns its text, failing loudly on any error (before measuring it). */
export async function callToolOnce(
  url: string,
  headers: Record<string, string>,
  name: string,
  args: Record<string, unknown> = {},
): Promise<string> {
  const response = await request(url, 'POST', '/mcp', {
    body: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: args } },
    headers: mcpHeaders(headers),
  });
  // The answer is JSON or one SSE `message` event, depending on the server.
  const json = response.text.startsWith('{')
    ? response.text
    : (/^data: (.*)$/m.exec(response.text)?.[1] ?? '{}');
  const body = JSON.parse(json) as {
    result?: { isError?: boolean; content?: { text?: string }[] };
  };
  const text = (body.result?.content ?? []).map((item) => item.text ?? '').join('\n');
  if (response.status !== 200 || !body.result || body.result.isError === true)
    throw new Error(`${name} failed: ${response.status} ${response.text.slice(0, 300)}`);
  return text;
}

/** Adds a Jira Cloud connection (the server checks the credential against the site first). */
export async function addJiraConnection(
  baseUrl: string,
  user: BenchUser,
  site: { url: string; email: string; apiToken: string },
  name: string,
): Promise<void> {
  const response = await request(baseUrl, 'POST', '/api/users/me/providers', {
    headers: { authorization: `Bearer ${user.account.accessToken}` },
    body: {
      provider_type: 'jira',
      name,
      base_url: site.url,
      email: site.email,
      api_token: site.apiToken,
    },
  });
  if (response.status !== 201)
    throw new Error(
      `adding a Jira connection failed: ${response.status} ${response.text.slice(0, 300)}`,
    );
}
