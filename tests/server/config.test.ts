import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';

describe('server configuration', () => {
  const folders: string[] = [];
  afterEach(() => {
    for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  });
  const tempFolder = () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'pm-mcp-config-'));
    folders.push(folder);
    return folder;
  };

  it('has the documented defaults', () => {
    const folder = tempFolder();
    const config = loadConfig({ DATABASE_URL: `sqlite:${path.join(folder, 'db.sqlite')}` });
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      allowUserIdAuth: false,
      allowRegistration: true,
      allowedOrigins: [],
      publicUrl: null,
      trustProxy: 0,
    });
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://localhost/db' }, 'DATABASE_URL'],
    [{ PM_MCP_SECRET_KEY: 'abc' }, 'PM_MCP_SECRET_KEY'],
    [{ PM_MCP_ALLOW_USER_ID_AUTH: 'maybe' }, 'PM_MCP_ALLOW_USER_ID_AUTH'],
    [{ PM_MCP_ALLOWED_ORIGINS: '*' }, 'PM_MCP_ALLOWED_ORIGINS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ DATABASE_URL: 'postgres://postgres@127.0.0.1/test' }, 'PM_MCP_SECRET_KEY'],
    [{ PM_MCP_KEY_DEFAULT_EXPIRY_DAYS: 'none' }, 'PM_MCP_KEY_DEFAULT_EXPIRY_DAYS'],
    [{ PM_MCP_KEY_DEFAULT_EXPIRY_DAYS: '400' }, 'PM_MCP_KEY_DEFAULT_EXPIRY_DAYS'],
    [{ PM_MCP_KEY_MAX_EXPIRY_DAYS: 'forever' }, 'PM_MCP_KEY_MAX_EXPIRY_DAYS'],
    [{ PM_MCP_PROVIDER_ALLOWED_HOSTS: '10.0.0.0/33' }, 'PM_MCP_PROVIDER_ALLOWED_HOSTS'],
    [{ PM_MCP_PROVIDER_ALLOWED_HOSTS: 'jira.corp, http://x' }, 'PM_MCP_PROVIDER_ALLOWED_HOSTS'],
    [{ PM_MCP_PROVIDER_ALLOWED_HOSTS: '*' }, 'PM_MCP_PROVIDER_ALLOWED_HOSTS'],
    [{ PM_MCP_PROVIDER_ALLOWED_HOSTS: 'fd00::/abc' }, 'PM_MCP_PROVIDER_ALLOWED_HOSTS'],
    [{ PM_MCP_TRUST_PROXY: 'true' }, 'PM_MCP_TRUST_PROXY'],
    [{ PM_MCP_TRUST_PROXY: '10.0.0.0/33' }, 'PM_MCP_TRUST_PROXY'],
    [{ PM_MCP_TRUST_PROXY: 'loopback, proxy.example' }, 'PM_MCP_TRUST_PROXY'],
    [{ PM_MCP_TRUST_PROXY: '-1' }, 'PM_MCP_TRUST_PROXY'],
    [{ PM_MCP_PUBLIC_URL: 'pm.example.com' }, 'PM_MCP_PUBLIC_URL'],
    [{ PM_MCP_PUBLIC_URL: 'ftp://pm.example.com' }, 'PM_MCP_PUBLIC_URL'],
    [{ PM_MCP_PUBLIC_URL: 'https://user:secret@pm.example.com' }, 'PM_MCP_PUBLIC_URL'],
    [{ PM_MCP_PUBLIC_URL: 'https://pm.example.com/?a=1' }, 'PM_MCP_PUBLIC_URL'],
  ])('refuses %o and names %s', (env, variable) => {
    const folder = tempFolder();
    const attempt = () =>
      loadConfig({ DATABASE_URL: `sqlite:${path.join(folder, 'db.sqlite')}`, ...env });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(new RegExp(`^Invalid configuration: ${variable} `));
  });

  it('reads PM_MCP_PROVIDER_ALLOWED_HOSTS as a comma list (none by default)', () => {
    const sqlite = `sqlite:${path.join(tempFolder(), 'db.sqlite')}`;
    expect(loadConfig({ DATABASE_URL: sqlite }).providerAllowedHosts).toEqual([]);
    expect(
      loadConfig({
        DATABASE_URL: sqlite,
        PM_MCP_PROVIDER_ALLOWED_HOSTS: ' jira.corp.example , 10.0.0.0/8,*.intra.example,,::1 ',
      }).providerAllowedHosts,
    ).toEqual(['jira.corp.example', '10.0.0.0/8', '*.intra.example', '::1']);
    expect(() =>
      loadConfig({ DATABASE_URL: sqlite, PM_MCP_PROVIDER_ALLOWED_HOSTS: 'jira.corp, http://x' }),
    ).toThrow('has an invalid entry "http://x"');
  });

  it('caps key lifetimes at 90 / 365 days unless both are none', () => {
    const folder = tempFolder();
    const sqlite = `sqlite:${path.join(folder, 'db.sqlite')}`;
    expect(loadConfig({ DATABASE_URL: sqlite }).keys).toEqual({
      defaultExpiryDays: 90,
      maxExpiryDays: 365,
    });
    const unlimited = loadConfig({
      DATABASE_URL: sqlite,
      PM_MCP_KEY_DEFAULT_EXPIRY_DAYS: 'none',
      PM_MCP_KEY_MAX_EXPIRY_DAYS: 'none',
    });
    expect(unlimited.keys).toEqual({ defaultExpiryDays: null, maxExpiryDays: null });
  });

  it('generates the SQLite secret key once, mode 0600, and reuses it', () => {
    const folder = tempFolder();
    const env = { DATABASE_URL: `sqlite:${path.join(folder, 'data', 'db.sqlite')}` };
    const first = loadConfig(env);
    const keyFile = path.join(folder, 'data', 'secret.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const second = loadConfig(env);
    expect(second.secretKey.equals(first.secretKey)).toBe(true);
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(first.secretKey.toString('hex'));
  });

  it('uses a configured secret key and parses allowed origins', () => {
    const key = randomBytes(32).toString('hex');
    const config = loadConfig({
      DATABASE_URL: 'postgres://postgres@127.0.0.1/test',
      PM_MCP_SECRET_KEY: key,
      PM_MCP_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173/',
    });
    expect(config.secretKey.toString('hex')).toBe(key);
    expect(config.allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
  });

  it('parses PM_MCP_TRUST_PROXY as a hop count or a list, and PM_MCP_PUBLIC_URL', () => {
    const folder = tempFolder();
    const sqlite = `sqlite:${path.join(folder, 'db.sqlite')}`;
    expect(loadConfig({ DATABASE_URL: sqlite, PM_MCP_TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(
      loadConfig({
        DATABASE_URL: sqlite,
        PM_MCP_TRUST_PROXY: 'loopback, 10.0.0.0/8,2001:db8::/32 ,192.0.2.7',
      }).trustProxy,
    ).toEqual(['loopback', '10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
    expect(
      loadConfig({ DATABASE_URL: sqlite, PM_MCP_PUBLIC_URL: 'https://PM.example.com/' }).publicUrl,
    ).toBe('https://pm.example.com');
  });
});
