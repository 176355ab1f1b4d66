// The hub's log key: one Ed25519 key that signs checkpoints and hub-authored ledger entries
// (gateway bindings, gap notes). Kept in a JSON file of mode 0600, created on first start; the
// secret is never logged or printed.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { b64url, deriveId, generateSecretKey, publicKeyOf } from '../protocol/index.js';

const KEY_FORMAT = 'wattproof-hub-key/1';

export interface HubKey {
  readonly hubId: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export class HubKeyError extends Error {
  override name = 'HubKeyError';
}

function fromSecret(secretKey: Uint8Array): HubKey {
  const publicKey = publicKeyOf(secretKey);
  return { hubId: deriveId('hub', publicKey), publicKey, secretKey };
}

/** Loads the key file, or creates it (mode 0600, exclusive create) when it does not exist. */
export function loadOrCreateHubKey(file: string): { key: HubKey; created: boolean } {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const key = fromSecret(generateSecretKey());
    const body = {
      format: KEY_FORMAT,
      hubId: key.hubId,
      publicKey: b64url.encode(key.publicKey),
      secretKey: b64url.encode(key.secretKey),
    };
    // 'wx' refuses to overwrite a key another process created in the meantime.
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(body, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return { key, created: true };
  }
  return { key: loadHubKey(file), created: false };
}

export function loadHubKey(file: string): HubKey {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new HubKeyError(`${file} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`);
  }
  let body: { format?: unknown; secretKey?: unknown; hubId?: unknown };
  try {
    body = JSON.parse(readFileSync(file, 'utf8')) as typeof body;
  } catch (err) {
    throw new HubKeyError(`${file} is not a hub key file: ${(err as Error).message}`);
  }
  if (body.format !== KEY_FORMAT || typeof body.secretKey !== 'string') {
    throw new HubKeyError(`${file} is not a hub key file (format "${KEY_FORMAT}" with secretKey expected)`);
  }
  let secret: Uint8Array;
  try {
    secret = b64url.decode(body.secretKey);
  } catch {
    throw new HubKeyError(`${file}: secretKey is not base64url`);
  }
  if (secret.length !== 32) throw new HubKeyError(`${file}: secretKey is not 32 bytes`);
  const key = fromSecret(secret);
  if (body.hubId !== undefined && body.hubId !== key.hubId) {
    throw new HubKeyError(`${file}: hubId ${String(body.hubId)} does not belong to its secret key`);
  }
  return key;
}
