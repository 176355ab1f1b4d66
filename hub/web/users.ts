// Dashboard users: a name, a role, and either a scrypt password hash or the SHA-256 of an API
// token. Only hashes live in the config; checks run in constant time, and a login for an unknown
// name costs the same scrypt as a real one so timing does not reveal which names exist.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { b64url } from '../../protocol/index.js';

export const ROLES = ['operator', 'validator', 'read-only'] as const;
export type Role = (typeof ROLES)[number];

export interface UserConfig {
  name: string;
  role: Role;
  /** `scrypt$N$r$p$salt$hash` (salt and hash base64url), from hashPassword(). */
  passwordHash?: string;
  /** `sha256$<base64url>` of an API token, from hashToken(). */
  tokenHash?: string;
}

export interface User {
  name: string;
  role: Role;
}

interface ScryptParams {
  N: number;
  r: number;
  p: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

const DEFAULT_N = 2 ** 15;
const KEY_LEN = 32;
const PREFIX = 'scrypt$';

function scryptAsync(password: string, salt: Uint8Array, p: Omit<ScryptParams, 'salt' | 'hash'>) {
  return new Promise<Buffer>((resolve, reject) => {
    // maxmem: 128·N·r bytes plus slack, so N = 2^15 (32 MiB) works without raising the global default.
    scrypt(password, salt, KEY_LEN, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** A password hash for the config: scrypt with a random 16-byte salt. */
export async function hashPassword(password: string, N = DEFAULT_N): Promise<string> {
  if (password.length < 12) throw new RangeError('a dashboard password needs at least 12 characters');
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, { N, r: 8, p: 1 });
  return `${PREFIX}${N}$8$1$${b64url.encode(salt)}$${b64url.encode(key)}`;
}

/** The hash of an API token for the config. */
export function hashToken(token: string): string {
  return `sha256$${b64url.encode(createHash('sha256').update(token, 'utf8').digest())}`;
}

/** A new random API token (shown once; store hashToken(token)). */
export function newToken(): string {
  return `wpd_${randomBytes(32).toString('base64url')}`;
}

/** Parses a password hash; throws naming what is wrong (used when the config is read). */
export function parsePasswordHash(s: string): ScryptParams {
  const parts = s.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt')
    throw new Error('must look like scrypt$N$r$p$salt$hash (make one with hashPassword)');
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const N = Number(n);
  if (!Number.isSafeInteger(N) || N < 2 ** 14 || (N & (N - 1)) !== 0)
    throw new Error('scrypt N must be a power of two ≥ 16384');
  const out = { N, r: Number(r), p: Number(p), salt: b64url.decode(salt), hash: b64url.decode(hash) };
  if (!(out.r >= 1 && out.r <= 32 && out.p >= 1 && out.p <= 16))
    throw new Error('scrypt r or p out of range');
  if (out.salt.length < 16 || out.hash.length !== KEY_LEN)
    throw new Error('salt or hash has the wrong length');
  return out;
}

interface StoredUser extends User {
  password?: ScryptParams;
  token?: Uint8Array;
}

export class UserStore {
  private readonly byName = new Map<string, StoredUser>();
  private readonly tokens: StoredUser[] = [];
  // A fixed decoy so an unknown name costs one scrypt like a known one.
  private readonly decoy: ScryptParams = {
    N: DEFAULT_N,
    r: 8,
    p: 1,
    salt: new Uint8Array(16),
    hash: new Uint8Array(KEY_LEN),
  };

  constructor(users: readonly UserConfig[]) {
    users.forEach((u, i) => {
      const where = `dashboard.users[${i}]`;
      if (!/^[A-Za-z0-9._@-]{1,64}$/.test(u.name))
        throw new Error(`${where}.name: letters, digits and ._@- only, at most 64`);
      if (!ROLES.includes(u.role)) throw new Error(`${where}.role: one of ${ROLES.join(', ')}`);
      if (this.byName.has(u.name)) throw new Error(`${where}.name: "${u.name}" appears twice`);
      if (!u.passwordHash && !u.tokenHash) throw new Error(`${where}: needs passwordHash or tokenHash`);
      const s: StoredUser = { name: u.name, role: u.role };
      if (u.passwordHash) {
        try {
          s.password = parsePasswordHash(u.passwordHash);
        } catch (err) {
          throw new Error(`${where}.passwordHash: ${(err as Error).message}`);
        }
      }
      if (u.tokenHash) {
        const m = /^sha256\$([A-Za-z0-9_-]{43})$/.exec(u.tokenHash);
        if (!m) throw new Error(`${where}.tokenHash: must look like sha256$<43 base64url characters>`);
        s.token = b64url.decode(m[1] as string);
        this.tokens.push(s);
      }
      this.byName.set(u.name, s);
    });
  }

  get size(): number {
    return this.byName.size;
  }

  /** The user when the name and password match, else undefined (same cost either way). */
  async checkPassword(name: string, password: string): Promise<User | undefined> {
    const u = this.byName.get(name);
    const params = u?.password ?? this.decoy;
    const key = await scryptAsync(password, params.salt, params);
    const ok = timingSafeEqual(key, params.hash) && u?.password !== undefined;
    return ok && u ? { name: u.name, role: u.role } : undefined;
  }

  /** The user whose API token this is. */
  checkToken(token: string): User | undefined {
    const h = createHash('sha256').update(token, 'utf8').digest();
    let found: StoredUser | undefined;
    for (const u of this.tokens) if (u.token && timingSafeEqual(h, u.token)) found = u;
    return found ? { name: found.name, role: found.role } : undefined;
  }
}
