import { createKey, registerAccount, request, type TestAccount } from '../../tests/support/http.js';
import { initializeRequest, mcpHeaders, toolCallMessage, type McpEra } from '../load.js';

/** What a benchmark needs on a running server before it loads it: an account, a key. */

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
 * Opens a Streamable HTTP session (initialize + initialized) on a stateful server and returns
 * its id. The PM MCP server keeps no sessions (it answers without an id, and this throws): only
 * the SDK v1 reference server has them.
 */
export async function openMcpSession(
  url: string,
  headers: Record<string, string>,
): Promise<string> {
  const init = await request(url, 'POST', '/mcp', {
    body: initializeRequest(1),
    headers: mcpHeaders(headers),
  });
  const sessionId = init.headers.get('mcp-session-id');
  if (init.status !== 200 || sessionId === null)
    throw new Error(`initialize failed: ${init.status} ${init.text.slice(0, 300)}`);
  const ack = await request(url, 'POST', '/mcp', {
    body: { jsonrpc: '2.0', method: 'notifications/initialized' },
    headers: mcpHeaders({ ...headers, 'mcp-session-id': sessionId }),
  });
  if (ack.status !== 202) throw new Error(`initialized failed: ${ack.status} ${ack.text}`);
  return sessionId;
}

/**
 * Calls a tool once and returns its text, failing loudly on any error (before measuring it).
 * `headers` are the request's own (`toolCallHeaders` for the era).
 */
export async function callToolOnce(
  url: string,
  headers: Record<string, string>,
  name: string,
  args: Record<string, unknown> = {},
  era: McpEra = 'session',
): Promise<string> {
  const response = await request(url, 'POST', '/mcp', {
    body: toolCallMessage(name, args, era, 2),
    headers: mcpHeaders(headers),
  });
  // A 2025-era stateless answer comes SSE-framed (`event: message` + `data: {…}`).
  const json = response.text.startsWith('event:')
    ? (/^data: (.*)$/m.exec(response.text)?.[1] ?? '')
    : response.text;
  let body: { result?: { isError?: boolean; content?: { text?: string }[] } } = {};
  try {
    body = JSON.parse(json) as typeof body;
  } catch {
    // reported below with the text
  }
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
