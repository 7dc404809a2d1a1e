import { Router } from 'express';
import { findUserById, presentUser } from '../auth/accounts.js';
import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';
import { principalOf } from '../http/http.js';

/** `GET /api/users/me`. */
export function meRoutes(db: Db): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    const user = await findUserById(db, principalOf(res).userId);
    if (!user) throw new AppError('unauthorized', 'Account no longer exists');
    res.json(presentUser(user));
  });
  return router;
}
