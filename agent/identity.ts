// The gateway's identity: one Ed25519 key in <stateDir>/gateway.key (mode 0600). The secret never
// leaves this module except as the bytes the signer needs; nothing here prints or logs it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { b64url, gatewayIdOf, generateSecretKey, publicKeyOf } from '../protocol/index.js';
import { ensurePrivateDir, writeFileAtomic } from './files.js';

export const KEY_FILE = 'gateway.key';
const KEY_FORMAT = 'wattproof-gateway-key/1';

export interface GatewayIdentity {
  readonly gatewayId: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export class IdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityError';
  }
}

export function keyPath(stateDir: string): string {
  return path.join(stateDir, KEY_FILE);
}

export function hasIdentity(stateDir: string): boolean {
  return existsSync(keyPath(stateDir));
}

/** The public part as the docs and the hub spell it. */
export function publicIdentity(id: GatewayIdentity): { gatewayId: string; publicKey: string } {
  return { gatewayId: id.gatewayId, publicKey: b64url.encode(id.publicKey) };
}

/** What an installer's phone scans: `wattproof:gw?id=<gatewayId>&pk=<base64url public key>`. */
export function enrolmentUri(id: GatewayIdentity): string {
  const p = publicIdentity(id);
  return `wattproof:gw?id=${encodeURIComponent(p.gatewayId)}&pk=${encodeURIComponent(p.publicKey)}`;
}

function fromSecret(secretKey: Uint8Array): GatewayIdentity {
  const publicKey = publicKeyOf(secretKey);
  return { gatewayId: gatewayIdOf(publicKey), publicKey, secretKey };
}

/**
 * Creates the state directory and a new key. Refuses (IdentityError) when a key exists, unless
 * `force`; with force the old key is replaced atomically (a new gateway id: it must be enrolled
 * again).
 */
export function createIdentity(stateDir: string, opts: { force?: boolean } = {}): GatewayIdentity {
  ensurePrivateDir(stateDir);
  const file = keyPath(stateDir);
  if (existsSync(file) && !opts.force) {
    throw new IdentityError(
      `${file} already exists; this gateway has a key. Use --force to replace it (the gateway gets a new id and must be enrolled again).`,
    );
  }
  const secretKey = generateSecretKey();
  const id = fromSecret(secretKey);
  const body = {
    format: KEY_FORMAT,
    gatewayId: id.gatewayId,
    publicKey: b64url.encode(id.publicKey),
    secretKey: b64url.encode(secretKey),
  };
  writeFileAtomic(file, `${JSON.stringify(body, null, 2)}\n`, 0o600);
  return id;
}

/** Loads the key; IdentityError with what to do when it is missing, unreadable or exposed. */
export function loadIdentity(stateDir: string): GatewayIdentity {
  const file = keyPath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new IdentityError(
      code === 'ENOENT'
        ? `no gateway key at ${file}; run \`wattproof-agent init\` first`
        : `cannot read ${file} (${code ?? String(err)})`,
    );
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new IdentityError(
      `${file} is readable by others (mode ${mode.toString(8)}); run \`chmod 600 ${file}\` and consider the key exposed`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new IdentityError(`${file} is not a Wattproof gateway key (not JSON)`);
  }
  const rec = parsed as Record<string, unknown>;
  if (
    rec === null ||
    typeof rec !== 'object' ||
    rec.format !== KEY_FORMAT ||
    typeof rec.secretKey !== 'string'
  ) {
    throw new IdentityError(`${file} is not a Wattproof gateway key (format ${KEY_FORMAT} expected)`);
  }
  let secretKey: Uint8Array;
  try {
    secretKey = b64url.decode(rec.secretKey);
  } catch {
    throw new IdentityError(`${file}: the secret key is not base64url`);
  }
  if (secretKey.length !== 32) throw new IdentityError(`${file}: the secret key is not 32 bytes`);
  const id = fromSecret(secretKey);
  if (rec.gatewayId !== undefined && rec.gatewayId !== id.gatewayId) {
    throw new IdentityError(`${file}: the stored gateway id does not match the key; the file was altered`);
  }
  return id;
}
