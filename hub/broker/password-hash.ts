// MQTT passwords are stored as PBKDF2-SHA512 hashes in Mosquitto's own `$7$` format
// (`$7$<iterations>$<base64 salt>$<base64 hash>`), so the hub's credential table can be written
// straight into a Mosquitto password file and checked by the embedded broker with the same code.
// The passwords are 256-bit random strings the hub generates, so the iteration count guards
// against nothing an attacker could brute-force; Mosquitto's default (101) keeps checks cheap.
import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

const ITERATIONS = 101;
const SALT_BYTES = 12;
const HASH_BYTES = 64;

export function hashMqttPassword(password: string, salt: Buffer = randomBytes(SALT_BYTES)): string {
  const hash = pbkdf2Sync(password, salt, ITERATIONS, HASH_BYTES, 'sha512');
  return `$7$${ITERATIONS}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** True when `password` matches a `$7$` hash; false for any other or malformed hash. */
export function checkMqttPassword(password: string, stored: string): boolean {
  const m = /^\$7\$(\d{1,7})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return false;
  const iterations = Number(m[1]);
  const salt = Buffer.from(m[2] as string, 'base64');
  const expected = Buffer.from(m[3] as string, 'base64');
  if (iterations < 1 || expected.length === 0) return false;
  const actual = pbkdf2Sync(password, salt, iterations, expected.length, 'sha512');
  return timingSafeEqual(actual, expected);
}
