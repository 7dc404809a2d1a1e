import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { parseBody, pathId, principalOf, requireSession } from '../http/http.js';
import type { ConnectionService } from '../connections/connections.js';
import type { KeyService } from './keys.js';
import {
  limitsBody,
  type KeyPolicy,
  projectListInput,
  toolListInput,
  unrestrictedPolicy,
  validatePolicy,
} from './policy.js';

const createKeyBody = z.object({
  name: z.string().trim().min(1).max(100),
  expires_in_days: z.number().int().positive().nullable().optional(),
  scope: z.enum(['read', 'write']).optional(),
  allowed_tools: toolListInput.optional(),
  allowed_projects: projectListInput.optional(),
});

/** The user's connections as a project limit is checked against (id and type). */
async function ownConnections(connections: ConnectionService, userId: string) {
  return (await connections.list(userId)).map((connection) => ({
    id: connection.id,
    providerType: connection.provider_type,
  }));
}

/**
 * A key's or a grant's limits after a `PATCH` of `allowed_tools` / `allowed_projects`: fields
 * left out keep their value, null lifts the limit; project entries must be the user's own.
 */
export async function changedLimits(
  body: unknown,
  current: KeyPolicy,
  connections: ConnectionService,
  userId: string,
): Promise<KeyPolicy> {
  const change = parseBody(limitsBody, body);
  return validatePolicy(
    { tools: change.allowed_tools, projects: change.allowed_projects },
    current,
    change.allowed_projects ? await ownConnections(connections, userId) : [],
  );
}

/** `/api/users/me/mcp-keys`. A key may list, and revoke or rotate itself; minting needs a session. */
export function keyRoutes(keys: KeyService, connections: ConnectionService): Router {
  const router = Router();

  router.get('/', async (_req, res) => {
    res.json({ keys: await keys.listKeys(principalOf(res).userId) });
  });

  router.post('/', async (req, res) => {
    const principal = requireSession(res);
    const body = parseBody(createKeyBody, req.body);
    const policy = validatePolicy(
      { tools: body.allowed_tools, projects: body.allowed_projects },
      unrestrictedPolicy,
      body.allowed_projects ? await ownConnections(connections, principal.userId) : [],
    );
    const created = await keys.createKey(principal.userId, {
      name: body.name,
      policy,
      ...(body.scope ? { scope: body.scope } : {}),
      ...(body.expires_in_days !== undefined ? { expiresInDays: body.expires_in_days } : {}),
    });
    res.status(201).json(created);
  });

  /** Session, or the key itself: a leaked key can end itself but cannot touch other keys. */
  function mayManage(res: Parameters<typeof principalOf>[0], keyId: string) {
    const principal = principalOf(res);
    if (principal.method === 'api_key' && principal.keyId !== keyId) {
      throw new AppError('forbidden', 'An MCP API key may only revoke or rotate itself');
    }
    return principal;
  }

  /**
   * A key's limits, changed by a signed-in session only: a key cannot widen (or otherwise touch)
   * its own policy. Fields left out keep their value; null lifts that limit.
   */
  router.patch('/:id', async (req, res) => {
    const keyId = pathId(req, 'id', 'API key');
    const principal = requireSession(res);
    const current = await keys.policyOf(principal.userId, keyId);
    const policy = await changedLimits(req.body, current, connections, principal.userId);
    res.json(await keys.setPolicy(principal.userId, keyId, policy));
  });

  router.delete('/:id', async (req, res) => {
    const keyId = pathId(req, 'id', 'API key');
    const principal = mayManage(res, keyId);
    await keys.revokeKey(principal.userId, keyId);
    res.status(204).end();
  });

  router.post('/:id/rotate', async (req, res) => {
    const keyId = pathId(req, 'id', 'API key');
    const principal = mayManage(res, keyId);
    // Only a signed-in session may extend a key; the key rotating itself keeps its expiry.
    const extend = principal.method !== 'api_key';
    res.status(201).json(await keys.rotateKey(principal.userId, keyId, { extend }));
  });

  return router;
}
