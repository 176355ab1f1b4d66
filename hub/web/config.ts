// The `dashboard:` section of the hub config. hub/config.ts adds it as
// `dashboard: dashboardConfigSchema.optional()`; docs/dashboard.md documents every key.
import { z } from 'zod';
import { b64url } from '../../protocol/index.js';
import { parsePasswordHash, ROLES } from './users.js';

const user = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits and ._@- only, at most 64'),
    role: z.enum(ROLES),
    /** scrypt$N$r$p$salt$hash — make one with `node dist/hub/web/hash-password.js`. */
    passwordHash: z
      .string()
      .refine((s) => {
        try {
          parsePasswordHash(s);
          return true;
        } catch {
          return false;
        }
      }, 'must be scrypt$N$r$p$salt$hash with N ≥ 16384 (make one with dist/hub/web/hash-password.js)')
      .optional(),
    /** sha256$<base64url> of an API token (for scripts; sent as Authorization: Bearer). */
    tokenHash: z
      .string()
      .regex(/^sha256\$[A-Za-z0-9_-]{43}$/, 'must be sha256$<43 base64url characters>')
      .optional(),
  })
  .refine((u) => u.passwordHash !== undefined || u.tokenHash !== undefined, {
    message: 'needs passwordHash or tokenHash',
  });

const publicKey = z.string().refine((s) => {
  try {
    return b64url.decode(s).length === 32;
  } catch {
    return false;
  }
}, 'must be a base64url raw 32-byte Ed25519 public key');

export const dashboardConfigSchema = z.strictObject({
  users: z.array(user).min(1, 'name at least one user'),
  /** Session lifetime; the user logs in again after it. */
  sessionTtlSeconds: z
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(8 * 3600),
  /** Set the cookie's Secure flag. Default: on when the hub serves TLS (behind a TLS proxy: set true). */
  secureCookies: z.boolean().optional(),
  /** The validators whose signed decisions the hub accepts from the dashboard (and the fold trusts). */
  validators: z.array(z.strictObject({ publicKey })).default([]),
  /** The ledger's settlement currency (the contracts fold refuses credits in another). */
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR')
    .default('EUR'),
  alerts: z
    .strictObject({
      offlineAfterSeconds: z.int().min(1).default(300),
      deviceStaleSeconds: z.int().min(1).default(300),
      backlogRises: z.int().min(1).default(3),
      backlogMin: z.int().min(0).default(4),
      evaluateEverySeconds: z.number().min(0.05).default(5),
    })
    .prefault({}),
  /** Telemetry samples kept per device point (memory: 16 bytes each). */
  telemetrySamples: z.int().min(10).max(100_000).default(360),
  metrics: z
    .strictObject({
      /** Require this bearer token on GET /metrics (or metrics.bearerTokenFile); open when neither. */
      bearerToken: z.string().min(32).optional(),
      bearerTokenFile: z.string().min(1).optional(),
    })
    .prefault({}),
});

export type DashboardConfig = z.output<typeof dashboardConfigSchema>;
