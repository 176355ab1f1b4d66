// Dashboard sessions, in memory: a random id in an HttpOnly cookie (only its SHA-256 is kept), a
// per-session CSRF token the page sends back in a header on every write, and a fixed lifetime.
// A hub restart logs everyone out, which is the safe direction.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role, User } from './users.js';

export interface Session {
  user: string;
  role: Role;
  csrf: string;
  createdMs: number;
  expiresMs: number;
}

const key = (id: string) => createHash('sha256').update(id, 'utf8').digest('base64url');

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxSessions = 10_000,
  ) {}

  /** Creates a session; returns the cookie value (shown to the browser only) and the session. */
  create(user: User): { id: string; session: Session } {
    this.sweep();
    if (this.sessions.size >= this.maxSessions) {
      // Drop the oldest so a flood of logins cannot grow memory without bound.
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    const session: Session = {
      user: user.name,
      role: user.role,
      csrf: randomBytes(24).toString('base64url'),
      createdMs: t,
      expiresMs: t + this.ttlMs,
    };
    this.sessions.set(key(id), session);
    return { id, session };
  }

  get(id: string | undefined): Session | undefined {
    if (!id || id.length > 100) return undefined;
    const k = key(id);
    const s = this.sessions.get(k);
    if (!s) return undefined;
    if (s.expiresMs <= this.now()) {
      this.sessions.delete(k);
      return undefined;
    }
    return s;
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(key(id));
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, s] of this.sessions) if (s.expiresMs <= t) this.sessions.delete(k);
  }
}

/** Constant-time comparison of the CSRF header with the session's token. */
export function csrfMatches(session: Session, header: unknown): boolean {
  if (typeof header !== 'string' || header.length === 0 || header.length > 100) return false;
  const a = Buffer.from(header, 'utf8');
  const b = Buffer.from(session.csrf, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
