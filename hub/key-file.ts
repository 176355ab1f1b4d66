// One Ed25519 key in a JSON file of mode 0600, created on first start with an exclusive create
// (another process's key is never overwritten), refused when others can read it. The hub's log key
// and the validator's key both live in such a file; they differ only in format name, id kind and
// the name of the id field. The secret is never logged or printed.
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
import { b64url, deriveId, generateSecretKey, type IdKind, publicKeyOf } from '../protocol/index.js';

export interface KeyFileKind {
  /** The file's `format` value, e.g. "wattproof-hub-key/1". */
  format: string;
  /** The id kind derived from the public key. */
  idKind: IdKind;
  /** The JSON field the id is written under ("hubId", "kid"). */
  idField: string;
  /** What the key is, for messages ("hub key", "validator key"). */
  label: string;
}

export interface FileKey {
  id: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export class KeyFileError extends Error {
  override name = 'KeyFileError';
}

function fromSecret(kind: KeyFileKind, secretKey: Uint8Array): FileKey {
  const publicKey = publicKeyOf(secretKey);
  return { id: deriveId(kind.idKind, publicKey), publicKey, secretKey };
}

/** Loads the key file, or creates it (mode 0600, exclusive create) when it does not exist. */
export function loadOrCreateKeyFile(file: string, kind: KeyFileKind): { key: FileKey; created: boolean } {
  if (existsSync(file)) return { key: loadKeyFile(file, kind), created: false };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = fromSecret(kind, generateSecretKey());
  const body = {
    format: kind.format,
    [kind.idField]: key.id,
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

export function loadKeyFile(file: string, kind: KeyFileKind): FileKey {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(
      `${file} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`,
    );
  }
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new KeyFileError(`${file} is not a ${kind.label} file: ${(err as Error).message}`);
  }
  if (body.format !== kind.format || typeof body.secretKey !== 'string') {
    throw new KeyFileError(
      `${file} is not a ${kind.label} file (format "${kind.format}" with secretKey expected)`,
    );
  }
  let secret: Uint8Array;
  try {
    secret = b64url.decode(body.secretKey);
  } catch {
    throw new KeyFileError(`${file}: secretKey is not base64url`);
  }
  if (secret.length !== 32) throw new KeyFileError(`${file}: secretKey is not 32 bytes`);
  const key = fromSecret(kind, secret);
  const claimed = body[kind.idField];
  if (claimed !== undefined && claimed !== key.id) {
    throw new KeyFileError(`${file}: ${kind.idField} ${String(claimed)} does not belong to its secret key`);
  }
  return key;
}
