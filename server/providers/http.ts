/**
 * The one HTTP layer every provider client uses (axios underneath). It owns what all three APIs
 * need and none should repeat:
 * - the base-URL guard (`assertSafeProviderBaseUrl` before the first request, and a guarded DNS
 *   lookup in every new socket, both under the operator's allow-list; no redirects are followed);
 * - for a base URL not yet verified (`hideUpstreamDetails`), errors that say only what happened
 *   (status, timeout, unreachable), never the upstream body, a redirect's `Location`, the shape of
 *   an unexpected answer or a system error code: nothing that would let a user read or scan what
 *   sits behind an address the server can reach;
 * - a per-request timeout and an optional `AbortSignal`;
 * - bounded retries on 429 and 503 honouring `Retry-After` (a cap on attempts, on each wait and
 *   on the total wait; a `Retry-After` beyond the cap gives up at once with a rate-limit error);
 * - Jira's dead-credential signal `X-Seraph-LoginReason: AUTHENTICATED_FAILED | AUTHENTICATION_DENIED`
 *   (even on a 200 with an empty list) and 401/403 → `ProviderAuthError`;
 * - Jira `{errorMessages, errors}` and OpenProject `{_type:"Error", errorIdentifier, message,
 *   _embedded.errors[]}` bodies → typed errors with readable messages;
 * - zod validation of every answer (only the fields a client uses).
 *
 * The credential lives in a private field and goes into each request's headers; errors are built
 * from status, path and the provider's own message, never from the axios error (whose config
 * carries the Authorization header).
 */
import axios, { type AxiosInstance, type AxiosResponse, isAxiosError } from 'axios';
import type { z } from 'zod';
import {
  ProviderAuthError,
  ProviderConflictError,
  ProviderError,
  ProviderForbiddenError,
  ProviderNotFoundError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderUnavailableError,
  ProviderValidationError,
  UnsafeProviderUrlError,
} from './errors.js';
import { providerDisplayNames, type ProviderType } from './types.js';
import {
  assertSafeProviderBaseUrl,
  describeUrl,
  guardedLookup,
  ProviderAllowList,
  type AddressLookup,
} from './url-guard.js';

export { assertSafeProviderBaseUrl, isRefusedAddress, type AddressLookup } from './url-guard.js';

export interface ProviderHttpOptions {
  /** Per request (each attempt), in ms. Default 10 000. */
  timeoutMs?: number;
  /** Attempts in all, including the first, for 429/503. Default 3. */
  maxAttempts?: number;
  /** The longest single wait we accept; a longer `Retry-After` gives up at once. Default 5 000. */
  maxRetryWaitMs?: number;
  /** The longest total wait across retries of one request. Default 10 000. */
  maxTotalRetryWaitMs?: number;
  /** Wait before a retry when the provider gave no `Retry-After` (doubles each time). Default 500. */
  fallbackRetryDelayMs?: number;
  /** DNS resolution for the base-URL guard (tests inject one). Default `dns.lookup`. */
  lookup?: AddressLookup | undefined;
  /**
   * The operator's `PM_MCP_PROVIDER_ALLOWED_HOSTS` entries (host names, `*.domain`, addresses,
   * CIDR ranges) that may be reached although loopback, private or link-local. Default none.
   */
  allowedHosts?: readonly string[] | undefined;
  /**
   * The base URL is not verified yet (a connection being created or re-pointed): errors carry no
   * upstream body, redirect target, answer shape or system error code. Default false.
   */
  hideUpstreamDetails?: boolean | undefined;
}

type TimingOptions = Required<
  Omit<ProviderHttpOptions, 'lookup' | 'allowedHosts' | 'hideUpstreamDetails'>
>;

export const defaultProviderHttpOptions: Readonly<TimingOptions> = {
  timeoutMs: 10_000,
  maxAttempts: 3,
  maxRetryWaitMs: 5_000,
  maxTotalRetryWaitMs: 10_000,
  fallbackRetryDelayMs: 500,
};

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type QueryValue = string | number | boolean | undefined | null;

export interface ProviderRequest<T> {
  method: HttpMethod;
  /** Below the base URL, starting with `/`. Path segments from input must already be encoded. */
  path: string;
  query?: Record<string, QueryValue | readonly string[]>;
  body?: unknown;
  /** Validates the answer; omit when no body is expected (204). */
  schema?: z.ZodType<T>;
  signal?: AbortSignal | undefined;
}

export interface ProviderHttpConfig {
  providerType: ProviderType;
  baseUrl: string;
  /** The full `Authorization` header value. */
  authorization: string;
}

const idempotentMethods = new Set<HttpMethod>(['GET', 'PUT', 'DELETE']);
const deadCredentialReasons = ['AUTHENTICATED_FAILED', 'AUTHENTICATION_DENIED'];

export class ProviderHttp {
  readonly providerType: ProviderType;
  /** The base URL without a trailing slash. */
  readonly baseUrl: string;
  /** "Jira Cloud", "Jira Data Center", "OpenProject": how messages name the provider. */
  readonly label: string;
  readonly #authorization: string;
  readonly #options: TimingOptions;
  readonly #lookup: AddressLookup | undefined;
  readonly #allowList: ProviderAllowList;
  readonly #hideUpstreamDetails: boolean;
  readonly #axios: AxiosInstance;
  #guard: Promise<URL> | undefined;

  constructor(config: ProviderHttpConfig, options: ProviderHttpOptions = {}) {
    this.providerType = config.providerType;
    this.baseUrl = config.baseUrl.replace(/\/+$/, '');
    this.label = providerDisplayNames[config.providerType];
    this.#authorization = config.authorization;
    this.#lookup = options.lookup;
    this.#allowList = new ProviderAllowList(options.allowedHosts ?? []);
    this.#hideUpstreamDetails = options.hideUpstreamDetails ?? false;
    this.#options = {
      timeoutMs: options.timeoutMs ?? defaultProviderHttpOptions.timeoutMs,
      maxAttempts: Math.max(1, options.maxAttempts ?? defaultProviderHttpOptions.maxAttempts),
      maxRetryWaitMs: options.maxRetryWaitMs ?? defaultProviderHttpOptions.maxRetryWaitMs,
      maxTotalRetryWaitMs:
        options.maxTotalRetryWaitMs ?? defaultProviderHttpOptions.maxTotalRetryWaitMs,
      fallbackRetryDelayMs:
        options.fallbackRetryDelayMs ?? defaultProviderHttpOptions.fallbackRetryDelayMs,
    };
    this.#axios = axios.create({
      baseURL: this.baseUrl,
      allowAbsoluteUrls: false,
      maxRedirects: 0,
      maxContentLength: 20 * 1024 * 1024,
      validateStatus: () => true,
      lookup: guardedLookup({ lookup: this.#lookup, allowedHosts: this.#allowList }),
      responseType: 'json',
    });
  }

  /** Sends the request, retrying 429/503 within the bounds; returns the validated body. */
  async request<T>(request: ProviderRequest<T>): Promise<T> {
    await this.#checkBaseUrl();
    let waitedMs = 0;
    for (let attempt = 1; ; attempt++) {
      const response = await this.#send(request);
      this.#throwIfDeadCredential(response, request);
      const { status } = response;
      if (status >= 200 && status < 300) return this.#validate(response, request);

      const retryable =
        status === 429 ||
        (status === 503 &&
          (idempotentMethods.has(request.method) || retryAfterMs(response) !== undefined));
      if (!retryable) throw this.#errorFor(response, request);

      const advisedMs = retryAfterMs(response);
      const waitMs =
        advisedMs ?? this.#options.fallbackRetryDelayMs * 2 ** Math.max(0, attempt - 1);
      if (advisedMs !== undefined && advisedMs > this.#options.maxRetryWaitMs) {
        throw this.#retryExhausted(response, request, {
          reason: `it asked to wait ${formatSeconds(advisedMs)}, longer than the ${formatSeconds(this.#options.maxRetryWaitMs)} we wait during a call`,
          retryAfterMs: advisedMs,
        });
      }
      if (
        attempt >= this.#options.maxAttempts ||
        waitedMs + waitMs > this.#options.maxTotalRetryWaitMs
      ) {
        throw this.#retryExhausted(response, request, {
          reason: `it still answered ${status} after ${attempt} attempt${attempt === 1 ? '' : 's'}`,
          retryAfterMs: advisedMs,
        });
      }
      await sleep(waitMs, request.signal);
      waitedMs += waitMs;
    }
  }

  async #checkBaseUrl(): Promise<void> {
    // Kept for the client's life once it passed; a refusal (or a DNS failure) is checked again
    // on the next request, since a client now lives across tool calls.
    this.#guard ??= assertSafeProviderBaseUrl(this.baseUrl, {
      lookup: this.#lookup,
      allowedHosts: this.#allowList,
    }).catch((error: unknown) => {
      this.#guard = undefined;
      throw error;
    });
    await this.#guard;
  }

  async #send<T>(request: ProviderRequest<T>): Promise<AxiosResponse<unknown>> {
    const headers: Record<string, string> = {
      Authorization: this.#authorization,
      Accept:
        this.providerType === 'openproject'
          ? 'application/hal+json, application/json'
          : 'application/json',
      'User-Agent': 'pm-mcp',
    };
    if (request.body !== undefined) headers['Content-Type'] = 'application/json';
    try {
      return await this.#axios.request<unknown>({
        method: request.method,
        url: withQuery(request.path, request.query),
        data: request.body,
        headers,
        timeout: this.#options.timeoutMs,
        signal: request.signal,
      });
    } catch (error) {
      throw this.#networkError(error, request);
    }
  }

  #networkError(error: unknown, request: ProviderRequest<unknown>): Error {
    if (request.signal?.aborted) {
      const reason: unknown = request.signal.reason;
      return reason instanceof Error
        ? reason
        : new ProviderUnavailableError(`The request to ${this.label} was cancelled.`);
    }
    const code = isAxiosError(error) ? error.code : undefined;
    const cause = isAxiosError(error) ? (error.cause as unknown) : error;
    if (cause instanceof UnsafeProviderUrlError) return cause;
    const where = `${this.label} at ${describeUrl(new URL(this.baseUrl))}`;
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
      return new ProviderUnavailableError(
        `${where} did not answer within ${formatSeconds(this.#options.timeoutMs)} (${request.method} ${pathOnly(request.path)}).`,
        { timedOut: true },
      );
    }
    const systemCode = this.#hideUpstreamDetails
      ? undefined
      : ((cause instanceof Error && 'code' in cause && typeof cause.code === 'string'
          ? cause.code
          : undefined) ?? code);
    return new ProviderUnavailableError(
      `Could not reach ${where}${systemCode ? ` (${systemCode})` : ''}. Check the base URL and that the server is up.`,
    );
  }

  #throwIfDeadCredential(
    response: AxiosResponse<unknown>,
    request: ProviderRequest<unknown>,
  ): void {
    const reason = headerOf(response, 'x-seraph-loginreason');
    if (reason === undefined) return;
    const found = deadCredentialReasons.find((dead) => reason.toUpperCase().includes(dead));
    if (found === undefined) return;
    const advice =
      found === 'AUTHENTICATION_DENIED'
        ? 'Jira is asking for a CAPTCHA after too many failed logins: sign in once in a browser, then test the connection again.'
        : this.providerType === 'jira'
          ? 'The token was probably revoked or has expired (or the email does not match it).'
          : 'The token was probably revoked or has expired.';
    throw new ProviderAuthError(
      `${this.label} did not accept the credential (X-Seraph-LoginReason: ${found}) on ${request.method} ${pathOnly(request.path)}. ${advice}`,
      { status: response.status },
    );
  }

  #validate<T>(response: AxiosResponse<unknown>, request: ProviderRequest<T>): T {
    if (!request.schema) return undefined as T;
    const parsed = request.schema.safeParse(response.data);
    if (parsed.success) return parsed.data;
    const where = `${request.method} ${pathOnly(request.path)}`;
    if (this.#hideUpstreamDetails) {
      throw new ProviderResponseError(
        `${this.label} at ${describeUrl(new URL(this.baseUrl))} did not answer ${where} the way ${this.label} does. Check the base URL (scheme, host and context path).`,
        { status: response.status },
      );
    }
    if (typeof response.data === 'string' || response.data === undefined) {
      throw new ProviderResponseError(
        `${this.label} at ${describeUrl(new URL(this.baseUrl))} did not answer ${where} with JSON. Is the base URL the ${this.label} site (not a login page or proxy)?`,
        { status: response.status },
      );
    }
    const issue = parsed.error.issues[0];
    const detail = issue
      ? `${issue.path.join('.') || '(root)'}: ${issue.message}`
      : 'unexpected shape';
    throw new ProviderResponseError(
      `${this.label} sent an unexpected answer to ${where} (${detail}).`,
      { status: response.status },
    );
  }

  #retryExhausted(
    response: AxiosResponse<unknown>,
    request: ProviderRequest<unknown>,
    { reason, retryAfterMs: advisedMs }: { reason: string; retryAfterMs: number | undefined },
  ): ProviderError {
    const where = `${request.method} ${pathOnly(request.path)}`;
    const later =
      advisedMs === undefined
        ? ' Try again shortly.'
        : ` Try again in ${formatSeconds(advisedMs)}.`;
    if (response.status === 429) {
      return new ProviderRateLimitError(
        `${this.label} is rate-limiting requests (429 on ${where}); gave up because ${reason}.${later}`,
        {
          status: 429,
          ...(advisedMs === undefined ? {} : { retryAfterSeconds: Math.ceil(advisedMs / 1000) }),
        },
      );
    }
    return new ProviderUnavailableError(
      `${this.label} is unavailable (${response.status} on ${where}); gave up because ${reason}.${later}`,
      { status: response.status },
    );
  }

  #errorFor(response: AxiosResponse<unknown>, request: ProviderRequest<unknown>): ProviderError {
    const { status } = response;
    const where = `${request.method} ${pathOnly(request.path)}`;
    const body = this.#hideUpstreamDetails
      ? { message: '', fieldErrors: {} }
      : describeErrorBody(response.data);
    const said = body.message ? `: ${body.message}` : '.';
    const options = { status };
    if (status >= 300 && status < 400) {
      const location = this.#hideUpstreamDetails ? undefined : headerOf(response, 'location');
      let target = '';
      if (location) {
        try {
          target = ` to ${describeUrl(new URL(location, this.baseUrl))}`;
        } catch {
          target = '';
        }
      }
      return new ProviderResponseError(
        `${this.label} redirected ${where}${target}. Check the base URL (scheme, host and context path); redirects are not followed.`,
        options,
      );
    }
    switch (status) {
      case 400:
      case 422:
        return new ProviderValidationError(`${this.label} refused ${where}${said}`, {
          ...options,
          fieldErrors: body.fieldErrors,
        });
      case 401:
        return new ProviderAuthError(
          `${this.label} did not accept the credential (401 on ${where})${said} The token was probably revoked or has expired.`,
          options,
        );
      case 403:
        return new ProviderForbiddenError(
          `${this.label} refused ${where} for this account (403)${said}`,
          options,
        );
      case 404:
        return new ProviderNotFoundError(`${this.label} found nothing at ${where}${said}`, options);
      case 409:
        return new ProviderConflictError(
          `${this.label} reported a conflict on ${where}${said}`,
          options,
        );
      default:
        if (status >= 500) {
          return new ProviderUnavailableError(
            `${this.label} failed with ${status} on ${where}${said}`,
            options,
          );
        }
        return new ProviderError(
          'provider_error',
          `${this.label} answered ${status} to ${where}${said}`,
          options,
        );
    }
  }
}

/** A readable message and field errors from a Jira or OpenProject error body (or nothing). */
export function describeErrorBody(data: unknown): {
  message: string;
  fieldErrors: Record<string, string>;
} {
  const fieldErrors: Record<string, string> = {};
  if (typeof data !== 'object' || data === null) return { message: '', fieldErrors };
  const record = data as Record<string, unknown>;
  const parts: string[] = [];

  // Jira: {"errorMessages": ["…"], "errors": {"field": "message"}}; some endpoints: {"message": "…"}
  if (Array.isArray(record.errorMessages) || typeof record.errors === 'object') {
    for (const message of Array.isArray(record.errorMessages) ? record.errorMessages : []) {
      if (typeof message === 'string' && message) parts.push(message);
    }
    if (typeof record.errors === 'object' && record.errors !== null) {
      for (const [field, message] of Object.entries(record.errors as Record<string, unknown>)) {
        if (typeof message === 'string') {
          fieldErrors[field] = message;
          parts.push(`${field}: ${message}`);
        }
      }
    }
  }

  // OpenProject: {"_type":"Error","errorIdentifier":"urn:…:X","message":"…",
  //               "_embedded":{"details":{"attribute":"subject"}, "errors":[{…}]}}
  if (record._type === 'Error') {
    const embedded = (record._embedded ?? {}) as Record<string, unknown>;
    const nested = Array.isArray(embedded.errors) ? (embedded.errors as unknown[]) : [];
    if (nested.length > 0) {
      for (const item of nested) {
        if (typeof item !== 'object' || item === null) continue;
        const error = item as Record<string, unknown>;
        const message = typeof error.message === 'string' ? error.message : '';
        const attribute = attributeOf(error._embedded);
        if (attribute && message) fieldErrors[attribute] = message;
        if (message) parts.push(message);
      }
    } else if (typeof record.message === 'string') {
      parts.push(record.message);
      const attribute = attributeOf(embedded);
      if (attribute) fieldErrors[attribute] = record.message;
    }
  } else if (parts.length === 0 && typeof record.message === 'string') {
    parts.push(record.message);
  }

  return { message: parts.join(' ').slice(0, 1_000), fieldErrors };
}

function attributeOf(embedded: unknown): string | undefined {
  if (typeof embedded !== 'object' || embedded === null) return undefined;
  const details = (embedded as Record<string, unknown>).details;
  if (typeof details !== 'object' || details === null) return undefined;
  const attribute = (details as Record<string, unknown>).attribute;
  return typeof attribute === 'string' ? attribute : undefined;
}

function headerOf(response: AxiosResponse<unknown>, name: string): string | undefined {
  const value: unknown = (response.headers as Record<string, unknown>)[name];
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.join(', ');
  return undefined;
}

/** `Retry-After` (seconds or an HTTP date), else Jira's `X-RateLimit-Reset` (ISO), in ms. */
function retryAfterMs(response: AxiosResponse<unknown>): number | undefined {
  const retryAfter = headerOf(response, 'retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  if (response.status === 429) {
    const reset = headerOf(response, 'x-ratelimit-reset');
    const date = reset ? Date.parse(reset) : Number.NaN;
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  return undefined;
}

function withQuery(path: string, query: ProviderRequest<unknown>['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (typeof value === 'object') for (const item of value) params.append(name, item);
    else params.append(name, String(value));
  }
  const search = params.toString();
  return search ? `${path}${path.includes('?') ? '&' : '?'}${search}` : path;
}

function pathOnly(path: string): string {
  return path.split('?')[0] ?? path;
}

function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error
    ? reason
    : new ProviderUnavailableError('The request was cancelled.');
}

/** Encodes one path segment from user input (an issue key, a project key). */
export function segment(value: string): string {
  return encodeURIComponent(value);
}
