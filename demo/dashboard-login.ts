// The demo's dashboard login: one operator user with a random password, made on the first run and
// kept in DATA/dashboard-login (mode 0600) so that later runs print the same login. The hub gets
// only its scrypt hash (hub/web/users.ts), as a real hub config would hold it.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { DashboardConfig } from '../hub/web/config.js';
import { hashPassword } from '../hub/web/users.js';
import { b64url } from '../protocol/index.js';

export const LOGIN_FILE = 'dashboard-login';
export const DEMO_USER = 'operator';

export interface DashboardLogin {
  user: string;
  password: string;
}

/** Reads the login file, or makes one (exclusive create, 0600) with a new random password. */
export function dashboardLogin(file: string): DashboardLogin {
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const user = /^user: (\S+)$/m.exec(text)?.[1];
    const password = /^password: (\S+)$/m.exec(text)?.[1];
    if (user && password) return { user, password };
    throw new Error(`${file} is not a demo login file (user: … / password: …); delete it to make a new one`);
  }
  const login = { user: DEMO_USER, password: randomBytes(18).toString('base64url') };
  writeFileSync(
    file,
    `# The demo dashboard's login (npm start made it; delete this file for a new password).\nuser: ${login.user}\npassword: ${login.password}\n`,
    { mode: 0o600, flag: 'wx' },
  );
  return login;
}

/** The hub's `dashboard` section: the operator user, and the validator key the dashboard trusts. */
export async function dashboardConfig(
  login: DashboardLogin,
  validatorPublicKey: Uint8Array,
  currency: string,
): Promise<DashboardConfig> {
  return {
    users: [{ name: login.user, role: 'operator', passwordHash: await hashPassword(login.password) }],
    sessionTtlSeconds: 8 * 3600,
    validators: [{ publicKey: b64url.encode(validatorPublicKey) }],
    currency,
    alerts: {
      offlineAfterSeconds: 60,
      deviceStaleSeconds: 120,
      backlogRises: 3,
      backlogMin: 4,
      evaluateEverySeconds: 5,
    },
    telemetrySamples: 360,
    metrics: {},
  };
}
