// Signed update bundles for the gateway agent. One file (`*.wpupdate`):
//
//   WATTPROOF-UPDATE/1\n
//   <compact JWS, typ wattproof.update-manifest.v1, signed by the hub's release key>\n
//   <the runtime tarball: gzip'd tar of one release directory>
//
// The manifest names the package, version, architecture, the oldest version it may replace,
// the Node.js major its native code needs, and the SHA-256 and length of the tarball. Nothing in
// the tarball is read before the manifest's signature and the tarball's hash have been checked.
// The release key's id is derived like a hub id (`hub-` + base32 of its SHA-256), so a manifest
// names which key signed it; the gateway accepts only the keys pinned in /etc/wattproof/release-key.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  b64url,
  bytesEqual,
  deriveId,
  hex,
  PUBLIC_KEY_BYTES,
  publicKeyOf,
  SECRET_KEY_BYTES,
  sha256,
  signJws,
  verifyJws,
} from '../../protocol/index.js';
import { writeFileAtomic } from '../files.js';
import { compareVersions, isVersion } from './version.js';

export const BUNDLE_MAGIC = 'WATTPROOF-UPDATE/1\n';
export const MANIFEST_TYP = 'wattproof.update-manifest.v1';
export const UPDATE_PACKAGE = 'wattproof-agent';
export const RELEASE_SECRET_FORMAT = 'wattproof-release-key/1';
export const DEFAULT_RELEASE_KEY_FILE = '/etc/wattproof/release-key';

/** Why a bundle was refused; each has a detail that says what is wrong and what to do. */
export type UpdateRefusalReason =
  | 'bundle-malformed'
  | 'no-release-key'
  | 'manifest-signature'
  | 'manifest-invalid'
  | 'wrong-package'
  | 'wrong-arch'
  | 'tarball-mismatch'
  | 'node-mismatch'
  | 'not-newer'
  | 'too-old'
  | 'runtime-invalid'
  | 'busy';

export class UpdateRefused extends Error {
  constructor(
    readonly reason: UpdateRefusalReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'UpdateRefused';
  }
}

export class UpdateBundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpdateBundleError';
  }
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'tarballSha256 is 64 lowercase hex digits');
const version = z.string().refine(isVersion, 'a version is MAJOR.MINOR.PATCH[-prerelease]');

export const UpdateManifest = z.strictObject({
  package: z.string(),
  version,
  arch: z.enum(['amd64', 'arm64']),
  /** The oldest installed version this bundle may replace (migrations in between need steps). */
  minVersion: version,
  /** The Node.js major the bundle's native modules were built for. */
  nodeMajor: z.number().int().min(20).max(99),
  tarballSha256: sha256Hex,
  tarballBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  /** UTC milliseconds when the bundle was made (informational). */
  createdAt: z.number().int().min(0),
});
export type UpdateManifest = z.infer<typeof UpdateManifest>;

export const releaseKeyId = (publicKey: Uint8Array): string => deriveId('hub', publicKey);

/** Splits a bundle into its manifest JWS and tarball, without trusting either. */
export function splitBundle(bytes: Uint8Array): { manifestJws: string; tarball: Uint8Array } {
  const magic = Buffer.from(BUNDLE_MAGIC, 'ascii');
  if (bytes.length < magic.length || !bytesEqual(bytes.subarray(0, magic.length), magic)) {
    throw new UpdateRefused(
      'bundle-malformed',
      `not a Wattproof update bundle (it must start with ${JSON.stringify(BUNDLE_MAGIC.trim())})`,
    );
  }
  // The JWS is base64url and dots only, at most 64 KiB; the first newline after it ends it.
  const limit = Math.min(bytes.length, magic.length + 64 * 1024 + 1);
  let end = -1;
  for (let i = magic.length; i < limit; i++) {
    if (bytes[i] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0)
    throw new UpdateRefused('bundle-malformed', 'the manifest line is missing or longer than 64 KiB');
  const manifestJws = Buffer.from(bytes.subarray(magic.length, end)).toString('latin1');
  return { manifestJws, tarball: bytes.subarray(end + 1) };
}

/** Signs a manifest for `tarball` and joins them into one bundle. */
export function createUpdateBundle(opts: {
  tarball: Uint8Array;
  version: string;
  arch: 'amd64' | 'arm64';
  minVersion: string;
  nodeMajor?: number;
  secretKey: Uint8Array;
  createdAt?: number;
}): { bytes: Uint8Array; manifest: UpdateManifest; manifestJws: string } {
  const manifest = UpdateManifest.parse({
    package: UPDATE_PACKAGE,
    version: opts.version,
    arch: opts.arch,
    minVersion: opts.minVersion,
    nodeMajor: opts.nodeMajor ?? 20,
    tarballSha256: hex(sha256(opts.tarball)),
    tarballBytes: opts.tarball.length,
    createdAt: opts.createdAt ?? Date.now(),
  });
  const kid = releaseKeyId(publicKeyOf(opts.secretKey));
  const manifestJws = signJws(MANIFEST_TYP, kid, manifest, opts.secretKey);
  const bytes = Buffer.concat([
    Buffer.from(BUNDLE_MAGIC, 'ascii'),
    Buffer.from(`${manifestJws}\n`, 'ascii'),
    opts.tarball,
  ]);
  return { bytes, manifest, manifestJws };
}

export function writeUpdateBundle(
  opts: Parameters<typeof createUpdateBundle>[0] & { outFile: string },
): UpdateManifest {
  const { bytes, manifest } = createUpdateBundle(opts);
  writeFileAtomic(opts.outFile, bytes, 0o644);
  return manifest;
}

/** What the gateway expects of a bundle besides a good signature. */
export interface BundleExpectations {
  arch: 'amd64' | 'arm64';
  /** The version that runs now, or undefined when none is installed. */
  currentVersion: string | undefined;
  /** The Node.js major that will run the new release. */
  nodeMajor: number;
  /** Accept a version that is not newer than the current one (an operator's explicit downgrade). */
  allowDowngrade?: boolean;
}

/**
 * Checks a bundle completely — signature by a pinned key, manifest fields, tarball hash and
 * length, package, architecture, Node.js major, version order — and returns the manifest and the
 * tarball it vouches for. Throws UpdateRefused naming the first check that failed.
 */
export function verifyUpdateBundle(
  bytes: Uint8Array,
  pinnedKeys: readonly Uint8Array[],
  expect: BundleExpectations,
): { manifest: UpdateManifest; tarball: Uint8Array; kid: string } {
  if (pinnedKeys.length === 0) {
    throw new UpdateRefused(
      'no-release-key',
      `no release key is pinned; put the hub's release public key in ${DEFAULT_RELEASE_KEY_FILE}`,
    );
  }
  const { manifestJws, tarball } = splitBundle(bytes);
  const byKid = new Map(pinnedKeys.map((k) => [releaseKeyId(k), k]));
  const v = verifyJws(manifestJws, { typ: MANIFEST_TYP, publicKeyFor: (kid) => byKid.get(kid) });
  if (!v.ok) {
    const hint =
      v.reason === 'kid-unknown'
        ? ` (pinned: ${[...byKid.keys()].join(', ')}); the bundle was signed by another key`
        : v.reason === 'bad-signature'
          ? '; the manifest was changed after it was signed'
          : '';
    throw new UpdateRefused('manifest-signature', `${v.reason}: ${v.detail}${hint}`);
  }
  const parsed = UpdateManifest.safeParse(v.payload);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new UpdateRefused(
      'manifest-invalid',
      `${first?.path.join('.') || 'manifest'}: ${first?.message ?? 'invalid'}`,
    );
  }
  const m = parsed.data;
  if (m.package !== UPDATE_PACKAGE) {
    throw new UpdateRefused('wrong-package', `the bundle is for "${m.package}", not ${UPDATE_PACKAGE}`);
  }
  if (m.arch !== expect.arch) {
    throw new UpdateRefused(
      'wrong-arch',
      `the bundle is built for ${m.arch}; this gateway is ${expect.arch}`,
    );
  }
  if (tarball.length !== m.tarballBytes || hex(sha256(tarball)) !== m.tarballSha256) {
    throw new UpdateRefused(
      'tarball-mismatch',
      `the runtime tarball (${tarball.length} bytes, sha256 ${hex(sha256(tarball))}) is not the one the manifest signs (${m.tarballBytes} bytes, sha256 ${m.tarballSha256}); the bundle was damaged or tampered with`,
    );
  }
  if (m.nodeMajor !== expect.nodeMajor) {
    throw new UpdateRefused(
      'node-mismatch',
      `the bundle's native modules need Node.js ${m.nodeMajor}; this gateway runs Node.js ${expect.nodeMajor}`,
    );
  }
  if (expect.currentVersion !== undefined) {
    if (
      !expect.allowDowngrade &&
      isVersion(expect.currentVersion) &&
      compareVersions(m.version, expect.currentVersion) <= 0
    ) {
      throw new UpdateRefused(
        'not-newer',
        `the bundle is version ${m.version}; ${expect.currentVersion} is installed (use --allow-downgrade to go back on purpose)`,
      );
    }
    if (isVersion(expect.currentVersion) && compareVersions(expect.currentVersion, m.minVersion) < 0) {
      throw new UpdateRefused(
        'too-old',
        `the bundle replaces ${m.minVersion} or later; ${expect.currentVersion} is installed, update to ${m.minVersion} first`,
      );
    }
  }
  return { manifest: m, tarball, kid: v.header.kid };
}

/**
 * Reads pinned release public keys: one base64url key per line, `#` comments and blank lines
 * ignored. A missing file gives no keys (every bundle is then refused with no-release-key).
 */
export function readPinnedReleaseKeys(file: string): Uint8Array[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const keys: Uint8Array[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    let key: Uint8Array;
    try {
      key = b64url.decode(line);
    } catch {
      throw new UpdateBundleError(`${file}:${i + 1}: not base64url; each line is one release public key`);
    }
    if (key.length !== PUBLIC_KEY_BYTES) {
      throw new UpdateBundleError(
        `${file}:${i + 1}: a release public key has 32 bytes, this has ${key.length}`,
      );
    }
    keys.push(key);
  });
  return keys;
}

/** Writes a new release key pair: the secret (0600, JSON) and the public key line to pin. */
export function releaseKeyFiles(secretKey: Uint8Array): {
  secretJson: string;
  publicLine: string;
  kid: string;
} {
  const pub = publicKeyOf(secretKey);
  const kid = releaseKeyId(pub);
  const secretJson = `${JSON.stringify(
    {
      format: RELEASE_SECRET_FORMAT,
      kid,
      publicKey: b64url.encode(pub),
      secretKey: b64url.encode(secretKey),
    },
    null,
    2,
  )}\n`;
  return { secretJson, publicLine: `# ${kid}\n${b64url.encode(pub)}\n`, kid };
}

/** Reads a release secret key file written by releaseKeyFiles. */
export function readReleaseSecretKey(file: string): Uint8Array {
  let body: unknown;
  try {
    body = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UpdateBundleError(`cannot read the release key ${file}: ${(err as Error).message}`);
  }
  const b = body as { format?: unknown; secretKey?: unknown; publicKey?: unknown };
  if (b.format !== RELEASE_SECRET_FORMAT || typeof b.secretKey !== 'string') {
    throw new UpdateBundleError(`${file} is not a ${RELEASE_SECRET_FORMAT} file`);
  }
  const secret = b64url.decode(b.secretKey);
  if (secret.length !== SECRET_KEY_BYTES) throw new UpdateBundleError(`${file}: the secret key has 32 bytes`);
  if (typeof b.publicKey === 'string' && b.publicKey !== b64url.encode(publicKeyOf(secret))) {
    throw new UpdateBundleError(`${file}: publicKey does not belong to secretKey`);
  }
  return secret;
}
