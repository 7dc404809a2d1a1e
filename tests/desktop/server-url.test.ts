import { describe, expect, it } from 'vitest';
import { keyRotationDue } from '../../main/account/key-rotation.js';
import { isLoopbackHost, normalizeServerUrl } from '../../main/account/server-url.js';

describe('server URL', () => {
  it('normalises https and loopback http URLs', () => {
    expect(normalizeServerUrl('https://pm.example.com/')).toBe('https://pm.example.com');
    expect(normalizeServerUrl(' https://pm.example.com/base/ ')).toBe(
      'https://pm.example.com/base',
    );
    expect(normalizeServerUrl('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(normalizeServerUrl('http://localhost:8080')).toBe('http://localhost:8080');
    expect(normalizeServerUrl('http://[::1]:8080')).toBe('http://[::1]:8080');
  });

  it('refuses plain http to another host unless confirmed', () => {
    expect(() => normalizeServerUrl('http://pm.example.com')).toThrow(
      expect.objectContaining({ code: 'insecure_server_url' }),
    );
    expect(normalizeServerUrl('http://pm.example.com', { allowInsecure: true })).toBe(
      'http://pm.example.com',
    );
  });

  it('refuses what is not a server URL', () => {
    expect(() => normalizeServerUrl('pm.example.com')).toThrow(
      expect.objectContaining({ code: 'usage' }),
    );
    expect(() => normalizeServerUrl('ftp://pm.example.com')).toThrow(/https:\/\//);
    expect(() => normalizeServerUrl('https://u:p@pm.example.com')).toThrow(/user name/);
  });

  it('knows loopback hosts', () => {
    expect(isLoopbackHost('127.3.2.1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('localhost.evil.example')).toBe(false);
  });
});

describe('key rotation policy', () => {
  const day = 86_400_000;
  const now = new Date('2030-06-01T00:00:00Z');
  const key = (createdDaysAgo: number, expiresInDays: number | null) => ({
    createdAt: new Date(now.getTime() - createdDaysAgo * day).toISOString(),
    expiresAt:
      expiresInDays === null ? null : new Date(now.getTime() + expiresInDays * day).toISOString(),
  });

  it('rotates when less than 7 days or 20% of the lifetime remain', () => {
    expect(keyRotationDue(key(10, null), now)).toBe(false);
    expect(keyRotationDue(key(10, 80), now)).toBe(false);
    expect(keyRotationDue(key(84, 6), now)).toBe(true);
    expect(keyRotationDue(key(300, 65), now)).toBe(true); // 65 of 365 days < 20 %
    expect(keyRotationDue(key(1, -1), now)).toBe(true);
  });
});
