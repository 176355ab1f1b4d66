// MQTT credentials of enrolled gateways, stored hashed. The embedded broker checks against these
// rows; for Mosquitto the hub writes them into its password file.
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { checkMqttPassword, hashMqttPassword } from './password-hash.js';

/** A random MQTT password: 32 bytes, base64url (43 characters). */
export function newMqttPassword(): string {
  return randomBytes(32).toString('base64url');
}

export class MqttCredentials {
  private readonly upsert: Database.Statement<[string, string, number]>;
  private readonly lookup: Database.Statement<[string], { password_hash: string }>;
  private readonly listAll: Database.Statement<[], { username: string; password_hash: string }>;

  constructor(
    db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {
    this.upsert = db.prepare(
      `INSERT INTO mqtt_credentials (username, password_hash, updated_ms) VALUES (?, ?, ?)
       ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, updated_ms = excluded.updated_ms`,
    );
    this.lookup = db.prepare('SELECT password_hash FROM mqtt_credentials WHERE username = ?');
    this.listAll = db.prepare('SELECT username, password_hash FROM mqtt_credentials ORDER BY username');
  }

  /** Sets (or replaces) a user's password; only its hash is stored. */
  set(username: string, password: string): void {
    this.upsert.run(username, hashMqttPassword(password), this.now());
  }

  check(username: string, password: string): boolean {
    const row = this.lookup.get(username);
    if (!row) return false;
    return checkMqttPassword(password, row.password_hash);
  }

  /** `username:hash` lines for a Mosquitto password file. */
  passwordFileText(extra: Array<{ username: string; passwordHash: string }> = []): string {
    const lines = extra.map((e) => `${e.username}:${e.passwordHash}`);
    for (const row of this.listAll.all()) lines.push(`${row.username}:${row.password_hash}`);
    return lines.length ? `${lines.join('\n')}\n` : '';
  }
}
