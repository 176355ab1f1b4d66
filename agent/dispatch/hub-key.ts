// The hub's signing key as the gateway learned it at enrolment: `wattproof-agent enroll` keeps
// hubId and hubPublicKey in the credentials file. Dispatch commands must verify with it.
import { existsSync, readFileSync } from 'node:fs';
import { b64url } from '../../protocol/index.js';
import type { HubKey } from './receive.js';

/** The hub key from the credentials file, or null (with why) when it is not there or not usable. */
export function loadHubKey(file: string): { key: HubKey } | { key: null; why: string } {
  if (!existsSync(file)) return { key: null, why: `${file} does not exist (enrol the gateway)` };
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    return { key: null, why: `${file} is not JSON: ${(err as Error).message}` };
  }
  const { hubId, hubPublicKey } = rec;
  if (typeof hubId !== 'string' || typeof hubPublicKey !== 'string')
    return { key: null, why: `${file} holds no hubId and hubPublicKey (enrol the gateway again)` };
  let publicKey: Uint8Array;
  try {
    publicKey = b64url.decode(hubPublicKey);
  } catch {
    return { key: null, why: `${file}: hubPublicKey is not base64url` };
  }
  if (publicKey.length !== 32)
    return { key: null, why: `${file}: hubPublicKey is not a 32-byte Ed25519 key` };
  return { key: { hubId, publicKey } };
}
