import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../../server/keys/key-format.js';
import { createLogger, redactSecrets } from '../../server/log.js';
import { assertNoSecretsIn } from '../support/server.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { lines, logger: createLogger('info', destination) };
}

describe('logs', () => {
  it('redact keys, credential query values and auth headers wherever they appear', () => {
    const key = generateApiKey();
    const { lines, logger } = capture();
    logger.info(
      {
        url: `/sse?api_key=${key}&x=1`,
        headers: { authorization: 'Bearer abc.def', 'x-mcp-api-key': key },
      },
      'request',
    );
    logger.info(
      { password: 'hunter22', nested: { api_token: 'jira-secret', note: `key was ${key}` } },
      'payload',
    );
    logger.warn(`failed for ${key} with Basic dXNlcjpwYXNz`);
    logger.error({ err: new Error(`upstream refused ${key}`) }, 'boom');
    const output = lines.join('');
    for (const secret of [key, 'abc.def', 'hunter22', 'jira-secret', 'dXNlcjpwYXNz'])
      expect(output).not.toContain(secret);
    expect(output).toContain('api_key=[REDACTED]&x=1');
    expect(output).toContain('mcp_[REDACTED]');
  });

  it('redactSecrets leaves ordinary text alone', () => {
    expect(redactSecrets('GET /api/users/me 200 in 3 ms')).toBe('GET /api/users/me 200 in 3 ms');
  });

  it("the suites' log check notices a leaked key, refresh token or session token", () => {
    expect(() => assertNoSecretsIn(`saw ${generateApiKey()}`)).toThrow(/MCP API key/);
    expect(() => assertNoSecretsIn('saw pmr_' + 'x'.repeat(43))).toThrow(/refresh token/);
    expect(() => assertNoSecretsIn('saw eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.sig')).toThrow(
      /session token/,
    );
    expect(() => assertNoSecretsIn('mcp_[REDACTED] and key_prefix mcp_1234abcd')).not.toThrow();
  });
});
