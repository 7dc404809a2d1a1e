import express, { Router, type Request, type Response } from 'express';
import type Provider from 'oidc-provider';
import type { AccountService } from '../auth/accounts.js';
import { clientAddress } from '../auth/authenticate.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { SsoRefusal, type SsoService } from '../sso/sso.js';
import type { GrantService } from './grants.js';
import { errorPageBody, escapeHtml, sendPage } from './pages.js';

/** What the login page offers besides a password (SSO, when configured). */
export interface LoginOptions {
  passwordLogin: boolean;
  /** The SSO provider's display name, when SSO is configured. */
  ssoName: string | null;
}

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountService;
  grants: GrantService;
  logger: Logger;
  login: LoginOptions;
  desktopClientId: string;
  /** Sign-in through the OpenID Connect provider, when configured. */
  sso: SsoService | null;
}

const scopeDescriptions: Record<string, string> = {
  'pm:read': 'Read your projects and issues in every connected Jira and OpenProject',
  'pm:write': 'Create, change, move and comment on issues',
};

function loginForm(uid: string, login: LoginOptions, message?: string, email = ''): string {
  const parts: string[] = [];
  if (message) parts.push(`<p class="error" role="alert">${escapeHtml(message)}</p>`);
  if (login.ssoName) {
    parts.push(
      `<p><a class="button" href="/oauth/interaction/${escapeHtml(uid)}/sso">Sign in with ${escapeHtml(login.ssoName)}</a></p>`,
    );
  }
  if (login.passwordLogin) {
    if (login.ssoName) parts.push('<hr>');
    parts.push(`<form method="post" action="/oauth/interaction/${escapeHtml(uid)}/login">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(email)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`);
  }
  parts.push(`<form method="post" action="/oauth/interaction/${escapeHtml(uid)}/abort">
<button type="submit" class="secondary">Cancel</button>
</form>`);
  return parts.join('\n');
}

/**
 * The login and consent pages of the authorization server (`/oauth/interaction/:uid`). The
 * interaction is bound to the browser by `oidc-provider`'s signed, SameSite cookie, so another
 * site cannot post these forms for someone.
 */
export function interactionRoutes(deps: InteractionDeps): Router {
  const { provider, accounts, grants, logger } = deps;
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });

  const details = async (req: Request, res: Response) => {
    try {
      return await provider.interactionDetails(req, res);
    } catch (error) {
      logger.debug({ err: error }, 'interaction not found');
      sendPage(
        res,
        400,
        'This sign-in has expired',
        errorPageBody(
          'invalid_request',
          'This sign-in page is no longer valid. Go back to your application and start again.',
        ),
      );
      return undefined;
    }
  };

  router.get('/:uid', async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction) return;
    const { uid, prompt, params } = interaction;
    if (prompt.name === 'login') {
      sendPage(res, 200, 'Sign in to PM MCP', loginForm(uid, deps.login));
      return;
    }
    const clientId = String(params.client_id);
    const client = await provider.Client.find(clientId);
    if (!client) {
      sendPage(res, 400, 'Unknown application', errorPageBody('invalid_client', 'Unknown client'));
      return;
    }
    if (clientId === deps.desktopClientId) {
      // The first-party app asks for nothing but a session of the person signing in.
      await finishConsent(req, res, interaction);
      return;
    }
    const requested = new Set((typeof params.scope === 'string' ? params.scope : '').split(' '));
    const name = client.clientName ?? clientId;
    const redirect = new URL(String(params.redirect_uri));
    const items = resourceScopeList(requested)
      .map((scope) => `<li>${escapeHtml(scopeDescriptions[scope] ?? scope)}</li>`)
      .join('');
    sendPage(
      res,
      200,
      'Allow access?',
      `<p><strong>${escapeHtml(name)}</strong> wants to use PM MCP as you.</p>
<ul>${items || '<li>Read your projects and issues</li>'}</ul>
<p class="muted">It will be sent back to <code>${escapeHtml(redirect.origin)}</code>. You can revoke this any time under your keys.</p>
<form method="post" action="/oauth/interaction/${escapeHtml(uid)}/consent">
<div class="row"><button type="submit">Allow</button></div>
</form>
<form method="post" action="/oauth/interaction/${escapeHtml(uid)}/abort">
<button type="submit" class="secondary">Deny</button>
</form>`,
    );
  });

  router.post('/:uid/login', form, async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction) return;
    if (!deps.login.passwordLogin) {
      sendPage(
        res,
        403,
        'Sign in to PM MCP',
        loginForm(interaction.uid, deps.login, 'Passwords are turned off on this server.'),
      );
      return;
    }
    const body = req.body as Record<string, unknown>;
    const email = typeof body.email === 'string' ? body.email.slice(0, 320) : '';
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
    try {
      const user = await accounts.verifyLogin(email, password, clientAddress(req));
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.id, amr: ['pwd'] } },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      if (!isAppError(error)) throw error;
      sendPage(
        res,
        error.status === 429 ? 429 : 401,
        'Sign in to PM MCP',
        loginForm(interaction.uid, deps.login, error.message, email),
      );
    }
  });

  router.get('/:uid/sso', async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction) return;
    if (!deps.sso) {
      sendPage(
        res,
        404,
        'Not available',
        errorPageBody('invalid_request', 'Single sign-on is not configured.'),
      );
      return;
    }
    try {
      await deps.sso.start(res, interaction.uid);
    } catch (error) {
      if (!(error instanceof SsoRefusal)) throw error;
      logger.warn({ err: error.cause }, 'SSO unavailable');
      sendPage(
        res,
        502,
        'Sign in to PM MCP',
        loginForm(interaction.uid, deps.login, error.message),
      );
    }
  });

  router.get('/:uid/sso-complete', async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction || !deps.sso) return;
    const ticket = typeof req.query.ticket === 'string' ? req.query.ticket : '';
    const userId = ticket ? await deps.sso.redeem(interaction.uid, ticket) : undefined;
    if (!userId) {
      sendPage(
        res,
        400,
        'Sign in to PM MCP',
        loginForm(interaction.uid, deps.login, 'This sign-in has expired; try again.'),
      );
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: userId, amr: ['sso'] } },
      { mergeWithLastSubmission: false },
    );
  });

  const signInFirst = (res: Response) =>
    sendPage(
      res,
      400,
      'Sign in first',
      errorPageBody('invalid_request', 'Sign in before allowing access.'),
    );

  router.post('/:uid/consent', form, async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction) return;
    if (interaction.prompt.name !== 'consent') {
      signInFirst(res);
      return;
    }
    await finishConsent(req, res, interaction);
  });

  router.post('/:uid/abort', form, async (req, res) => {
    const interaction = await details(req, res);
    if (!interaction) return;
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'The user denied access' },
      { mergeWithLastSubmission: false },
    );
  });

  /**
   * Grants what the client asked for and finishes. (Granting less than was asked would send the
   * browser straight back to consent; a client wanting less asks for `pm:read` alone.)
   */
  async function finishConsent(
    req: Request,
    res: Response,
    interaction: Awaited<ReturnType<Provider['interactionDetails']>>,
  ): Promise<void> {
    const { prompt, params, session } = interaction;
    const accountId = session?.accountId;
    if (!accountId) {
      signInFirst(res);
      return;
    }
    const clientId = String(params.client_id);
    const grant = interaction.grantId
      ? ((await provider.Grant.find(interaction.grantId)) ??
        new provider.Grant({ accountId, clientId }))
      : new provider.Grant({ accountId, clientId });
    const missingOidc = prompt.details.missingOIDCScope as string[] | undefined;
    if (missingOidc) grant.addOIDCScope(missingOidc.join(' '));
    const missingClaims = prompt.details.missingOIDCClaims as string[] | undefined;
    if (missingClaims) grant.addOIDCClaims(missingClaims);
    const missingResource = prompt.details.missingResourceScopes as
      Record<string, string[]> | undefined;
    const granted: string[] = [];
    for (const [indicator, scopes] of Object.entries(missingResource ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
      granted.push(...scopes);
    }
    const grantId = await grant.save();
    if (clientId !== deps.desktopClientId) {
      const client = await provider.Client.find(clientId);
      await grants.record({
        grantId,
        userId: accountId,
        clientId,
        clientName: (client?.clientName ?? clientId).slice(0, 200),
        scope: resourceScopeList(new Set(granted)).join(' ') || 'pm:read',
      });
    }
    await provider.interactionFinished(
      req,
      res,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
  }

  return router;
}

function resourceScopeList(scopes: Set<string>): string[] {
  return ['pm:read', 'pm:write'].filter((scope) => scopes.has(scope));
}
