import { Router } from 'express';
import { z } from 'zod';
import { parseBody, pathId, principalOf, requireSession } from '../http/http.js';
import type { ConnectionService } from './connections.js';

const providerType = z.enum(['jira', 'jira_server', 'openproject']);
const createBody = z.object({
  provider_type: providerType,
  name: z.string().trim().min(1).max(100),
  base_url: z.string().trim().min(1).max(2048),
  email: z.string().trim().max(320).optional(),
  api_token: z.string().min(1).max(4096),
});
const patchBody = z.object({
  name: z.string().trim().min(1).max(100).optional(),
  is_active: z.boolean().optional(),
  base_url: z.string().trim().min(1).max(2048).optional(),
  email: z.string().trim().max(320).optional(),
  api_token: z.string().min(1).max(4096).optional(),
});

/** `/api/users/me/providers`. Keys may list and test; changing connections needs a session. */
export function providerRoutes(connections: ConnectionService): Router {
  const router = Router();

  router.get('/', async (_req, res) => {
    res.json({ providers: await connections.list(principalOf(res).userId) });
  });

  router.post('/', async (req, res) => {
    const principal = requireSession(res);
    const body = parseBody(createBody, req.body);
    const provider = await connections.create(principal.userId, {
      providerType: body.provider_type,
      name: body.name,
      baseUrl: body.base_url,
      email: body.email,
      apiToken: body.api_token,
    });
    res.status(201).json({ provider });
  });

  router.patch('/:id', async (req, res) => {
    const principal = requireSession(res);
    const id = pathId(req, 'id', 'Provider connection');
    const body = parseBody(patchBody, req.body);
    const provider = await connections.update(principal.userId, id, {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.is_active !== undefined ? { isActive: body.is_active } : {}),
      ...(body.base_url !== undefined ? { baseUrl: body.base_url } : {}),
      ...(body.email !== undefined ? { email: body.email } : {}),
      ...(body.api_token !== undefined ? { apiToken: body.api_token } : {}),
    });
    res.json({ provider });
  });

  router.delete('/:id', async (req, res) => {
    const principal = requireSession(res);
    await connections.remove(principal.userId, pathId(req, 'id', 'Provider connection'));
    res.status(204).end();
  });

  router.post('/:id/test', async (req, res) => {
    const principal = principalOf(res);
    res.json(await connections.test(principal.userId, pathId(req, 'id', 'Provider connection')));
  });

  return router;
}
