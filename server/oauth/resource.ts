import type Provider from 'oidc-provider';
import type { Principal } from '../auth/authenticate.js';
import { AppError } from '../errors.js';
import type { GrantService } from './grants.js';

/**
 * `/mcp` as an OAuth protected resource (RFC 9728): its metadata, the challenge that points a
 * client without a credential at it, and access tokens turned into a principal. Tokens are
 * opaque and looked up in the database on every request, with their grant, so an expired or
 * revoked one is refused by every instance at once.
 */
export class ProtectedResource {
  readonly resourceUrl: string;
  readonly metadataUrl: string;
  readonly #publicUrl: string;
  readonly #provider: Provider;
  readonly #grants: GrantService;

  constructor(options: { publicUrl: string; provider: Provider; grants: GrantService }) {
    this.#publicUrl = options.publicUrl;
    this.resourceUrl = `${options.publicUrl}/mcp`;
    // RFC 9728 §3.1: the well-known segment goes between the host and the resource's path.
    this.metadataUrl = `${new URL(options.publicUrl).origin}/.well-known/oauth-protected-resource${new URL(this.resourceUrl).pathname}`;
    this.#provider = options.provider;
    this.#grants = options.grants;
  }

  metadata(): Record<string, unknown> {
    return {
      resource: this.resourceUrl,
      authorization_servers: [this.#publicUrl],
      scopes_supported: ['pm:read', 'pm:write'],
      bearer_methods_supported: ['header'],
      resource_name: 'PM MCP',
      resource_documentation: `${this.#publicUrl}/oauth/help`,
    };
  }

  /** `WWW-Authenticate` for a 401 on `/mcp`: where to discover how to get a token. */
  challenge(error?: 'invalid_token'): string {
    const parts = [`resource_metadata="${this.metadataUrl}"`, 'scope="pm:read pm:write"'];
    if (error) parts.unshift(`error="${error}"`);
    return `Bearer ${parts.join(', ')}`;
  }

  invalidToken(): AppError {
    return new AppError('invalid_token', 'The access token is invalid, expired or revoked', {
      headers: { 'WWW-Authenticate': this.challenge('invalid_token') },
    });
  }

  /** The principal an access token stands for, or `invalid_token` (401 with the challenge). */
  async authenticate(token: string): Promise<Principal> {
    if (token.length > 512) throw this.invalidToken();
    const accessToken = await this.#provider.AccessToken.find(token);
    if (!accessToken || accessToken.isExpired || !accessToken.accountId || !accessToken.grantId) {
      throw this.invalidToken();
    }
    // RFC 8707: a token minted for another resource is not ours to honour.
    const audience = accessToken.aud;
    const audiences = Array.isArray(audience) ? audience : [audience];
    if (!audiences.includes(this.resourceUrl)) throw this.invalidToken();
    const grant = await this.#grants.active(accessToken.grantId);
    if (!grant || grant.userId !== accessToken.accountId) throw this.invalidToken();
    const scopes = new Set((accessToken.scope ?? '').split(' '));
    if (!scopes.has('pm:read') && !scopes.has('pm:write')) {
      throw new AppError(
        'insufficient_scope',
        'The access token carries neither pm:read nor pm:write',
        {
          headers: {
            'WWW-Authenticate': `Bearer error="insufficient_scope", scope="pm:read", resource_metadata="${this.metadataUrl}"`,
          },
        },
      );
    }
    return {
      userId: accessToken.accountId,
      method: 'oauth',
      keyId: null,
      grantId: grant.id,
      scope: scopes.has('pm:write') ? 'write' : 'read',
      expiresAt: null,
      policy: grant.policy,
    };
  }
}
