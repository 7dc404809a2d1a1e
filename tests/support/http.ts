import { randomBytes } from 'node:crypto';

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A JSON request against the server under test. */
export async function request<T = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers: {
      ...(options.body !== undefined || options.rawBody !== undefined
        ? { 'content-type': 'application/json' }
        : {}),
      ...options.headers,
    },
    ...(options.rawBody !== undefined
      ? { body: options.rawBody }
      : options.body !== undefined
        ? { body: JSON.stringify(options.body) }
        : {}),
  });
  const text = await response.text();
  let body: unknown = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { raw: text };
  }
  return { status: response.status, headers: response.headers, body: body as T, text };
}

export interface TestAccount {
  userId: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

export const randomEmail = (): string => `user-${randomBytes(4).toString('hex')}@example.test`;
export const randomPassword = (): string => randomBytes(12).toString('base64url');

export async function registerAccount(baseUrl: string, name = 'Test User'): Promise<TestAccount> {
  const email = randomEmail();
  const password = randomPassword();
  const response = await request<{
    user: { id: string };
    access_token: string;
    refresh_token: string;
  }>(baseUrl, 'POST', '/api/auth/register', { body: { email, password, name } });
  if (response.status !== 201)
    throw new Error(`register failed: ${response.status} ${response.text}`);
  return {
    userId: response.body.user.id,
    email,
    password,
    accessToken: response.body.access_token,
    refreshToken: response.body.refresh_token,
  };
}

export interface CreatedKey {
  id: string;
  api_key: string;
  key_prefix: string;
  scope: 'read' | 'write';
  expires_at: string | null;
}

export async function createKey(
  baseUrl: string,
  account: TestAccount,
  body: { name?: string; scope?: 'read' | 'write'; expires_in_days?: number | null } = {},
): Promise<CreatedKey> {
  const response = await request<CreatedKey>(baseUrl, 'POST', '/api/users/me/mcp-keys', {
    body: { name: 'laptop', ...body },
    headers: { authorization: `Bearer ${account.accessToken}` },
  });
  if (response.status !== 201)
    throw new Error(`create key failed: ${response.status} ${response.text}`);
  return response.body;
}

/** Adds a provider connection for the account; resolves with its id. */
export async function addConnection(
  baseUrl: string,
  account: TestAccount,
  body: Record<string, unknown>,
): Promise<string> {
  const response = await request<{ provider: { id: string } }>(
    baseUrl,
    'POST',
    '/api/users/me/providers',
    { headers: { authorization: `Bearer ${account.accessToken}` }, body },
  );
  if (response.status !== 201)
    throw new Error(`adding a connection failed: ${response.status} ${response.text}`);
  return response.body.provider.id;
}
