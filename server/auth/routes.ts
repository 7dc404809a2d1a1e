import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { parseBody } from '../http/http.js';
import type { AccountService } from './accounts.js';
import { clientAddress } from './authenticate.js';
import { maxPasswordLength, minPasswordLength } from './passwords.js';

const password = z
  .string()
  .max(maxPasswordLength, { error: `must be at most ${maxPasswordLength} characters` });

const registerBody = z.object({
  email: z
    .string()
    .trim()
    .max(320)
    .pipe(z.email({ error: 'must be a valid email address' })),
  password: password.min(minPasswordLength, {
    error: `must be at least ${minPasswordLength} characters`,
  }),
  name: z.string().trim().max(200).optional(),
});
const loginBody = z.object({ email: z.string().trim().max(320), password });
const refreshBody = z.object({ refresh_token: z.string().min(1).max(512) });

export function authRoutes(
  accounts: AccountService,
  options: { allowRegistration: boolean; passwordLogin?: boolean },
): Router {
  const router = Router();
  const refuseWithoutPasswords = () => {
    if (options.passwordLogin === false) {
      throw new AppError(
        'forbidden',
        'Passwords are turned off on this server; sign in through the browser',
      );
    }
  };

  router.post('/register', async (req, res) => {
    refuseWithoutPasswords();
    if (!options.allowRegistration) {
      throw new AppError(
        'registration_disabled',
        'Registration is disabled on this server; ask an administrator',
      );
    }
    const body = parseBody(registerBody, req.body);
    res.status(201).json(await accounts.register(body, clientAddress(req)));
  });

  router.post('/login', async (req, res) => {
    refuseWithoutPasswords();
    const body = parseBody(loginBody, req.body);
    res.json(await accounts.login(body.email, body.password, clientAddress(req)));
  });

  router.post('/refresh', async (req, res) => {
    const body = parseBody(refreshBody, req.body);
    res.json(await accounts.refresh(body.refresh_token));
  });

  router.post('/logout', async (req, res) => {
    const body = parseBody(refreshBody, req.body);
    await accounts.logout(body.refresh_token);
    res.status(204).end();
  });

  return router;
}
