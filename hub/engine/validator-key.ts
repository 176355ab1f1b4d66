// The validator's signing key, held by the hub's engine when the validator runs in the hub's
// process: one Ed25519 key in a JSON file of mode 0600 (the dashboard's validator key format),
// created on first start. Its id `val-…` is what the fold's FoldConfig.validatorKids trusts.
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
import { b64url, deriveId, generateSecretKey, publicKeyOf } from '../../protocol/index.js';

export const VALIDATOR_KEY_FORMAT = 'wattproof-validator-key/1';

export interface ValidatorKey {
  readonly kid: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export class ValidatorKeyError extends Error {
  override name = 'ValidatorKeyError';
}

/** The validator key's file name in the hub's data folder. */
export const VALIDATOR_KEY_FILE = 'validator.key';

export function validatorKeyOf(secretKey: Uint8Array): ValidatorKey {
  const publicKey = publicKeyOf(secretKey);
  return { kid: deriveId('val', publicKey), publicKey, secretKey };
}

/** Loads the key file, or creates it (mode 0600, exclusive create) when it does not exist. */
export function loadOrCreateValidatorKey(file: string): { key: ValidatorKey; created: boolean } {
  if (existsSync(file)) return { key: loadValidatorKey(file), created: false };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = validatorKeyOf(generateSecretKey());
  const body = {
    format: VALIDATOR_KEY_FORMAT,
    kid: key.kid,
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

export function loadValidatorKey(file: string): ValidatorKey {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new ValidatorKeyError(
      `${file} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`,
    );
  let body: { format?: unknown; secretKey?: unknown; kid?: unknown };
  try {
    body = JSON.parse(readFileSync(file, 'utf8')) as typeof body;
  } catch (err) {
    throw new ValidatorKeyError(`${file} is not a validator key file: ${(err as Error).message}`);
  }
  if (body.format !== VALIDATOR_KEY_FORMAT || typeof body.secretKey !== 'string')
    throw new ValidatorKeyError(
      `${file} is not a validator key file (format "${VALIDATOR_KEY_FORMAT}" with secretKey expected)`,
    );
  let secret: Uint8Array;
  try {
    secret = b64url.decode(body.secretKey);
  } catch {
    throw new ValidatorKeyError(`${file}: secretKey is not base64url`);
  }
  if (secret.length !== 32) throw new ValidatorKeyError(`${file}: secretKey is not 32 bytes`);
  const key = validatorKeyOf(secret);
  if (body.kid !== undefined && body.kid !== key.kid)
    throw new ValidatorKeyError(`${file}: kid ${String(body.kid)} does not belong to its secret key`);
  return key;
}
