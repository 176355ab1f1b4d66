// One-time enrolment tokens. A token is `wpt_` + 32 random bytes (base64url); only its SHA-256 is
// stored, so a copy of the database does not let anyone enrol. Use is a single conditional UPDATE,
// so two gateways racing with one token cannot both win.
import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { isId } from '../../protocol/index.js';
import { NAME_PATTERN } from '../../protocol/messages/index.js';

export const TOKEN_PREFIX = 'wpt_';
const TOKEN_PATTERN = /^wpt_[A-Za-z0-9_-]{43}$/;
export const DEFAULT_TOKEN_TTL_MS = 15 * 60_000;
export const MAX_TOKEN_TTL_MS = 7 * 24 * 3_600_000;

export type TokenRefusal = 'token-unknown' | 'token-used' | 'token-expired';

export interface TokenBinding {
  site: string;
  participant: string | null;
}

export interface CreatedToken extends TokenBinding {
  token: string;
  expiresAt: number;
}

function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

interface TokenRow {
  site: string;
  participant: string | null;
  expires_ms: number;
  used_ms: number | null;
}

export class EnrollTokens {
  private readonly insert: Database.Statement<[Buffer, string, string | null, number, number]>;
  private readonly select: Database.Statement<[Buffer], TokenRow>;
  private readonly markUsed: Database.Statement<[number, string, Buffer, number]>;

  constructor(
    db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {
    this.insert = db.prepare(
      'INSERT INTO enroll_tokens (token_hash, site, participant, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)',
    );
    this.select = db.prepare(
      'SELECT site, participant, expires_ms, used_ms FROM enroll_tokens WHERE token_hash = ?',
    );
    this.markUsed = db.prepare(
      'UPDATE enroll_tokens SET used_ms = ?, used_by = ? WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?',
    );
  }

  create(binding: { site: string; participant?: string | null; ttlMs?: number }): CreatedToken {
    const ttlMs = binding.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
    if (!Number.isInteger(ttlMs) || ttlMs <= 0 || ttlMs > MAX_TOKEN_TTL_MS) {
      throw new RangeError(`ttl must be between 1 ms and 7 days, got ${ttlMs} ms`);
    }
    if (!NAME_PATTERN.test(binding.site)) {
      throw new RangeError(
        `site "${binding.site}" must be 1-64 characters: letters, digits, "_", "." or "-", starting with a letter or digit`,
      );
    }
    if (binding.participant != null && !isId(binding.participant, 'pt')) {
      throw new RangeError(`participant "${binding.participant}" must be a participant id (pt-...)`);
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const created = this.now();
    const participant = binding.participant ?? null;
    this.insert.run(tokenHash(token), binding.site, participant, created, created + ttlMs);
    return { token, site: binding.site, participant, expiresAt: created + ttlMs };
  }

  /** What the token would give, without using it. */
  peek(token: string): { ok: true; binding: TokenBinding } | { ok: false; reason: TokenRefusal } {
    if (!TOKEN_PATTERN.test(token)) return { ok: false, reason: 'token-unknown' };
    const row = this.select.get(tokenHash(token));
    if (!row) return { ok: false, reason: 'token-unknown' };
    if (row.used_ms !== null) return { ok: false, reason: 'token-used' };
    if (row.expires_ms <= this.now()) return { ok: false, reason: 'token-expired' };
    return { ok: true, binding: { site: row.site, participant: row.participant } };
  }

  /** Uses the token for `usedBy`; call inside the transaction that records the enrolment. */
  consume(
    token: string,
    usedBy: string,
  ): { ok: true; binding: TokenBinding } | { ok: false; reason: TokenRefusal } {
    const seen = this.peek(token);
    if (!seen.ok) return seen;
    const now = this.now();
    const changed = this.markUsed.run(now, usedBy, tokenHash(token), now).changes;
    if (changed === 1) return seen;
    // Used or expired between the look and the update: report which.
    const again = this.peek(token);
    return again.ok ? { ok: false, reason: 'token-used' } : again;
  }
}
