import { z } from 'zod';
import { clientIds, providerTypes } from '../../preload/contract.js';
import { DesktopError } from '../errors.js';

/**
 * The core checks what callers hand it (the window's IPC layer validates too; the CLI and tests
 * call the core directly).
 */
export const signInInputSchema = z.object({
  serverUrl: z.string().min(1).max(2048),
  email: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(1024),
  createAccount: z.boolean().optional(),
  name: z.string().max(200).optional(),
  allowInsecure: z.boolean().optional(),
});

export const browserSignInInputSchema = z.object({
  serverUrl: z.string().min(1).max(2048),
  allowInsecure: z.boolean().optional(),
});

export const settingsPatchSchema = z
  .object({
    serverUrl: z.string().max(2048).nullable(),
    proxyPort: z.number().int().min(1024).max(65_535),
    startAtLogin: z.boolean(),
    autoConfigureCursor: z.boolean(),
  })
  .partial()
  .strict();

export const addProviderSchema = z.object({
  providerType: z.enum(providerTypes),
  name: z.string().trim().min(1).max(100),
  baseUrl: z.string().trim().min(1).max(2048),
  email: z.string().trim().max(320).optional(),
  apiToken: z.string().min(1).max(4096),
});

export const idSchema = z.string().min(1).max(200);

/**
 * A change to a key's or a grant's limits. Shape only: the server knows the tool names and the
 * user's connections and checks them.
 */
export const limitsChangeSchema = z
  .strictObject({
    allowedTools: z.array(z.string().trim().min(1).max(100)).min(1).max(50).nullable().optional(),
    allowedProjects: z
      .array(z.string().trim().min(1).max(200))
      .min(1)
      .max(200)
      .nullable()
      .optional(),
  })
  .refine((limits) => limits.allowedTools !== undefined || limits.allowedProjects !== undefined, {
    message: 'give allowedTools and/or allowedProjects (a list, or null to lift the limit)',
  });
export const clientIdSchema = z.enum(clientIds);

/** The value, or `usage` naming the first bad field (never its value: it may be a password). */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new DesktopError('usage', `Invalid ${what}: ${field}${issue?.message ?? 'invalid'}`);
}
