// Signed update bundles, end to end in a temporary root: real tarballs made by tar, real Ed25519
// signatures, the real install layout with a `current` symlink, and a health check that really
// runs the new release with Node. Only systemd is not here: the restart is a recorded function.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { register as registerUpdate } from '../agent/commands/update.js';
import {
  BUNDLE_MAGIC,
  createUpdateBundle,
  readPinnedReleaseKeys,
  readReleaseSecretKey,
  releaseKeyFiles,
  releaseKeyId,
  splitBundle,
  UpdateRefused,
  verifyUpdateBundle,
} from '../agent/update/bundle.js';
import { serviceSettles, versionAnswers } from '../agent/update/health.js';
import { processInbox } from '../agent/update/inbox.js';
import { type HealthContext, UpdateInstaller } from '../agent/update/installer.js';
import { compareVersions } from '../agent/update/version.js';
import { b64url, generateSecretKey, publicKeyOf } from '../protocol/index.js';

const NODE_MAJOR = Number.parseInt(process.versions.node, 10);
const ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';

let dir: string;
let root: string;
let releaseSecret: Uint8Array;

/** A release directory whose agent prints its version, or dies on start when `broken`. */
function makeRuntime(version: string, opts: { broken?: boolean; claim?: string } = {}): string {
  const rt = path.join(
    dir,
    `rt-${version}-${opts.broken ? 'broken' : 'ok'}-${Math.random().toString(36).slice(2)}`,
  );
  mkdirSync(path.join(rt, 'lib'), { recursive: true });
  writeFileSync(
    path.join(rt, 'package.json'),
    JSON.stringify({ name: 'wattproof', version: opts.claim ?? version, type: 'module' }),
  );
  writeFileSync(
    path.join(rt, 'lib/wattproof-agent.mjs'),
    opts.broken
      ? "throw new Error('Cannot find module better-sqlite3 (simulated broken release)');\n"
      : `if (process.argv[2] === '--version') console.log(${JSON.stringify(version)});\n`,
  );
  return rt;
}

function tarball(rt: string): Uint8Array {
  return execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '-czf', '-', '-C', rt, '.']);
}

function bundleFor(
  version: string,
  opts: {
    broken?: boolean;
    claim?: string;
    secret?: Uint8Array;
    minVersion?: string;
    arch?: 'amd64' | 'arm64';
    nodeMajor?: number;
  } = {},
): Uint8Array {
  return createUpdateBundle({
    tarball: tarball(makeRuntime(version, opts)),
    version,
    arch: opts.arch ?? ARCH,
    minVersion: opts.minVersion ?? '0.1.0',
    nodeMajor: opts.nodeMajor ?? NODE_MAJOR,
    secretKey: opts.secret ?? releaseSecret,
    createdAt: 1_767_225_600_000,
  }).bytes;
}

/** Installs release 0.1.0 the way the Debian package lays it out. */
function installBase(): void {
  const lib = path.join(root, 'usr/lib/wattproof-agent');
  mkdirSync(path.join(lib, 'releases'), { recursive: true });
  execFileSync('cp', ['-a', makeRuntime('0.1.0'), path.join(lib, 'releases/0.1.0')]);
  symlinkSync('releases/0.1.0', path.join(lib, 'current'));
}

function installer(
  overrides: { health?: (ctx: HealthContext) => Promise<{ ok: true } | { ok: false; detail: string }> } = {},
) {
  const restarts: string[] = [];
  const inst = new UpdateInstaller({
    root,
    pinnedKeys: [publicKeyOf(releaseSecret)],
    arch: ARCH,
    nodeMajor: NODE_MAJOR,
    restart: async () => {
      restarts.push(readlinkSync(path.join(root, 'usr/lib/wattproof-agent/current')));
    },
    healthCheck: overrides.health ?? ((ctx) => versionAnswers(ctx)),
  });
  return { inst, restarts };
}

const current = () => readlinkSync(path.join(root, 'usr/lib/wattproof-agent/current'));
const releases = () =>
  readdirSync(path.join(root, 'usr/lib/wattproof-agent/releases'))
    .filter((n) => !n.startsWith('.'))
    .sort();

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wp-update-'));
  root = path.join(dir, 'root');
  releaseSecret = generateSecretKey();
  installBase();
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('update bundle verification', () => {
  it('accepts a good bundle and returns what the manifest vouches for', () => {
    const b = bundleFor('0.2.0');
    const v = verifyUpdateBundle(b, [publicKeyOf(releaseSecret)], {
      arch: ARCH,
      currentVersion: '0.1.0',
      nodeMajor: NODE_MAJOR,
    });
    expect(v.manifest.version).toBe('0.2.0');
    expect(v.kid).toBe(releaseKeyId(publicKeyOf(releaseSecret)));
    expect(v.kid).toMatch(/^hub-[a-z2-7]{16}$/);
  });

  it('refuses a bundle with one byte of the tarball changed', async () => {
    const b = Buffer.from(bundleFor('0.2.0'));
    b[b.length - 20] = (b[b.length - 20] ?? 0) ^ 0x01;
    const { inst, restarts } = installer();
    const r = await inst.install(b);
    expect(r).toMatchObject({ outcome: 'refused', reason: 'tarball-mismatch' });
    expect(r.outcome === 'refused' && r.detail).toMatch(/damaged or tampered/);
    expect(current()).toBe('releases/0.1.0');
    expect(releases()).toEqual(['0.1.0']);
    expect(restarts).toEqual([]);
  });

  it('refuses a manifest changed after signing (the version bumped, signature kept)', async () => {
    const b = bundleFor('0.2.0');
    const { manifestJws, tarball: tb } = splitBundle(b);
    const [h, p, s] = manifestJws.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(b64url.decode(p)).toString('utf8')) as Record<string, unknown>;
    payload.version = '9.9.9';
    const forged = `${h}.${b64url.encode(Buffer.from(JSON.stringify(payload)))}.${s}`;
    const tampered = Buffer.concat([Buffer.from(BUNDLE_MAGIC), Buffer.from(`${forged}\n`), tb]);
    const { inst, restarts } = installer();
    const r = await inst.install(tampered);
    expect(r).toMatchObject({ outcome: 'refused', reason: 'manifest-signature' });
    expect(r.outcome === 'refused' && r.detail).toMatch(/^bad-signature: .*changed after it was signed/);
    expect(releases()).toEqual(['0.1.0']);
    expect(restarts).toEqual([]);
  });

  it('refuses a bundle signed by a key that is not pinned, naming both keys', async () => {
    const other = generateSecretKey();
    const { inst } = installer();
    const r = await inst.install(bundleFor('0.2.0', { secret: other }));
    expect(r).toMatchObject({ outcome: 'refused', reason: 'manifest-signature' });
    expect(r.outcome === 'refused' && r.detail).toContain(releaseKeyId(publicKeyOf(other)));
    expect(r.outcome === 'refused' && r.detail).toContain(releaseKeyId(publicKeyOf(releaseSecret)));
    expect(current()).toBe('releases/0.1.0');
  });

  it('refuses everything when no release key is pinned', () => {
    expect(() =>
      verifyUpdateBundle(bundleFor('0.2.0'), [], {
        arch: ARCH,
        currentVersion: '0.1.0',
        nodeMajor: NODE_MAJOR,
      }),
    ).toThrow(/no-release-key/);
  });

  it('refuses a file that is not a bundle, the wrong architecture, Node.js major, an older version, a too-old base', async () => {
    const { inst } = installer();
    const cases: Array<[Uint8Array, string]> = [
      [Buffer.from('#!/bin/sh\nrm -rf /\n'), 'bundle-malformed'],
      [bundleFor('0.2.0', { arch: ARCH === 'amd64' ? 'arm64' : 'amd64' }), 'wrong-arch'],
      [bundleFor('0.2.0', { nodeMajor: NODE_MAJOR + 2 }), 'node-mismatch'],
      [bundleFor('0.0.9'), 'not-newer'],
      [bundleFor('0.1.0'), 'not-newer'],
      [bundleFor('0.3.0', { minVersion: '0.2.0' }), 'too-old'],
      [bundleFor('0.2.0', { claim: '0.2.1' }), 'runtime-invalid'],
    ];
    for (const [bytes, reason] of cases) {
      const r = await inst.install(bytes);
      expect(r, reason).toMatchObject({ outcome: 'refused', reason });
    }
    expect(current()).toBe('releases/0.1.0');
    expect(releases()).toEqual(['0.1.0']);
  });
});

describe('installing and rolling back', () => {
  it('installs a good bundle side by side, switches current, restarts, and the new release answers', async () => {
    const { inst, restarts } = installer();
    const r = await inst.install(bundleFor('0.2.0'));
    expect(r).toEqual({ outcome: 'installed', version: '0.2.0', previous: '0.1.0' });
    expect(current()).toBe('releases/0.2.0');
    expect(releases()).toEqual(['0.1.0', '0.2.0']);
    expect(restarts).toEqual(['releases/0.2.0']);
    expect(existsSync(inst.pendingFile)).toBe(false);
    const out = execFileSync(
      process.execPath,
      [path.join(root, 'usr/lib/wattproof-agent/current/lib/wattproof-agent.mjs'), '--version'],
      {
        encoding: 'utf8',
      },
    );
    expect(out.trim()).toBe('0.2.0');
  });

  it('rolls back a release whose health check fails, and restarts the previous one', async () => {
    const { inst, restarts } = installer();
    const r = await inst.install(bundleFor('0.2.0', { broken: true }));
    expect(r).toMatchObject({ outcome: 'rolled-back', version: '0.2.0', previous: '0.1.0' });
    expect(r.outcome === 'rolled-back' && r.detail).toMatch(/exited 1: .*simulated broken release/);
    expect(current()).toBe('releases/0.1.0');
    expect(releases()).toEqual(['0.1.0']);
    expect(restarts).toEqual(['releases/0.2.0', 'releases/0.1.0']);
    expect(existsSync(inst.pendingFile)).toBe(false);
  });

  it('rolls back when the service does not stay up (an injected service check)', async () => {
    const { inst } = installer({
      health: async (ctx) => {
        const v = await versionAnswers(ctx);
        return v.ok
          ? { ok: false, detail: 'wattproof-agent.service did not stay up (activating/auto-restart)' }
          : v;
      },
    });
    const r = await inst.install(bundleFor('0.2.0'));
    expect(r).toMatchObject({ outcome: 'rolled-back', detail: expect.stringContaining('did not stay up') });
    expect(current()).toBe('releases/0.1.0');
  });

  it('keeps the current, the previous and one older release', async () => {
    const { inst } = installer();
    for (const v of ['0.2.0', '0.3.0', '0.4.0', '0.5.0']) {
      expect(await inst.install(bundleFor(v, { minVersion: '0.1.0' }))).toMatchObject({
        outcome: 'installed',
      });
    }
    expect(releases()).toEqual(['0.3.0', '0.4.0', '0.5.0']);
    expect(current()).toBe('releases/0.5.0');
  });

  it('finishes an update a power cut interrupted after the switch: unhealthy → back to the previous', async () => {
    // Reproduce the state on disk: the new (broken) release unpacked, the marker written,
    // `current` switched, then the power went.
    const lib = path.join(root, 'usr/lib/wattproof-agent');
    execFileSync('cp', ['-a', makeRuntime('0.2.0', { broken: true }), path.join(lib, 'releases/0.2.0')]);
    writeFileSync(
      path.join(lib, 'update-pending.json'),
      JSON.stringify({ version: '0.2.0', previous: '0.1.0', startedAt: 1 }),
    );
    rmSync(path.join(lib, 'current'));
    symlinkSync('releases/0.2.0', path.join(lib, 'current'));
    const { inst } = installer();
    const r = await inst.recover();
    expect(r).toMatchObject({ outcome: 'rolled-back', version: '0.2.0', previous: '0.1.0' });
    expect(current()).toBe('releases/0.1.0');
    expect(releases()).toEqual(['0.1.0']);
    expect(await inst.recover()).toBeUndefined();
  });

  it('refuses a second update while one runs (lock held by a live process)', async () => {
    const lib = path.join(root, 'usr/lib/wattproof-agent');
    writeFileSync(path.join(lib, '.update.lock'), String(process.pid));
    const { inst } = installer();
    expect(await inst.install(bundleFor('0.2.0'))).toMatchObject({ outcome: 'refused', reason: 'busy' });
    // A lock left by a dead process is taken over.
    writeFileSync(path.join(lib, '.update.lock'), '999999999');
    expect(await inst.install(bundleFor('0.2.0'))).toMatchObject({ outcome: 'installed' });
  });
});

describe('the inbox and the command', () => {
  it('installs bundles from the inbox, empties it and records the outcome', async () => {
    const inbox = path.join(dir, 'updates');
    mkdirSync(inbox);
    writeFileSync(path.join(inbox, 'a-0.2.0.wpupdate'), bundleFor('0.2.0'));
    const bad = Buffer.from(bundleFor('0.3.0'));
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    writeFileSync(path.join(inbox, 'b-0.3.0.wpupdate'), bad);
    const { inst } = installer();
    const results = await processInbox(inbox, inst, { now: () => 42 });
    expect(results.map((r) => [r.file, r.result.outcome])).toEqual([
      ['a-0.2.0.wpupdate', 'installed'],
      ['b-0.3.0.wpupdate', 'refused'],
    ]);
    expect(readdirSync(inbox)).toEqual(['last-result.json']);
    const last = JSON.parse(readFileSync(path.join(inbox, 'last-result.json'), 'utf8')) as { at: number };
    expect(last.at).toBe(42);
    expect(current()).toBe('releases/0.2.0');
  });

  it('`wattproof-agent update` installs with pinned keys from a file and reports JSON', async () => {
    const keys = releaseKeyFiles(releaseSecret);
    const keyFile = path.join(root, 'etc/wattproof/release-key');
    mkdirSync(path.dirname(keyFile), { recursive: true });
    writeFileSync(keyFile, keys.publicLine);
    expect(readPinnedReleaseKeys(keyFile)).toEqual([publicKeyOf(releaseSecret)]);
    const secretFile = path.join(dir, 'release.key');
    writeFileSync(secretFile, keys.secretJson, { mode: 0o600 });
    expect(readReleaseSecretKey(secretFile)).toEqual(releaseSecret);

    const bundleFile = path.join(dir, 'x.wpupdate');
    writeFileSync(bundleFile, bundleFor('0.2.0'));
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const errWrite = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: string) => {
      out.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      const program = new Command().exitOverride();
      registerUpdate(program);
      await program.parseAsync(['update', bundleFile, '--root', root, '--no-restart', '--json'], {
        from: 'user',
      });
      expect(process.exitCode).toBe(0);
      expect(JSON.parse(out.join(''))).toEqual({ outcome: 'installed', version: '0.2.0', previous: '0.1.0' });

      out.length = 0;
      const again = new Command().exitOverride();
      registerUpdate(again);
      await again.parseAsync(['update', bundleFile, '--root', root, '--no-restart', '--json'], {
        from: 'user',
      });
      expect(process.exitCode).toBe(1);
      expect(JSON.parse(out.join(''))).toMatchObject({ outcome: 'refused', reason: 'not-newer' });
    } finally {
      process.stdout.write = write;
      process.stderr.write = errWrite;
      process.exitCode = undefined;
    }
  });

  it('a malformed pinned key file is a config error naming the line', () => {
    const f = path.join(dir, 'bad-key');
    writeFileSync(f, '# release key\nnot*base64\n');
    expect(() => readPinnedReleaseKeys(f)).toThrow(/bad-key:2: not base64url/);
    writeFileSync(f, `${b64url.encode(new Uint8Array(31))}\n`);
    expect(() => readPinnedReleaseKeys(f)).toThrow(/:1: a release public key has 32 bytes, this has 31/);
    expect(readPinnedReleaseKeys(path.join(dir, 'missing'))).toEqual([]);
  });
});

describe('version order', () => {
  it('orders releases and pre-releases by SemVer precedence', () => {
    const sorted = [
      '1.0.0',
      '0.10.0',
      '0.9.1',
      '1.0.0-rc.1',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-beta.11',
      '1.0.0-beta.2',
    ].sort(compareVersions);
    expect(sorted).toEqual([
      '0.9.1',
      '0.10.0',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
    ]);
    expect(() => compareVersions('1.0', '1.0.0')).toThrow(/not a version/);
  });

  it('UpdateRefused carries its reason', () => {
    const e = new UpdateRefused('wrong-arch', 'x');
    expect(e.message).toBe('wrong-arch: x');
  });
});

describe('the service check after a restart', () => {
  // systemd does not run here: a stand-in `systemctl` replays the states a real one reports for
  // `systemctl show wattproof-agent.service -p ActiveState,SubState,NRestarts`, one per call.
  function fakeSystemctl(states: string[]): string {
    const file = path.join(dir, `states-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, `${states.join('\n')}\n`);
    const counter = `${file}.n`;
    const script = path.join(dir, `systemctl-${Math.random().toString(36).slice(2)}`);
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `n=$(cat ${counter} 2>/dev/null || echo 1)`,
        `line=$(sed -n "\${n}p" ${file}); [ -n "$line" ] || line=$(tail -n 1 ${file})`,
        `echo $((n + 1)) > ${counter}`,
        'set -- $line',
        'printf "ActiveState=%s\\nSubState=%s\\nNRestarts=%s\\n" "$1" "$2" "$3"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    return script;
  }
  const opts = (systemctl: string) => ({ systemctl, settleMs: 300, pollMs: 50, deadlineMs: 2000 });

  it('accepts a service that becomes active and stays up', async () => {
    const s = fakeSystemctl(['activating start 0', 'activating start 0', 'active running 0']);
    expect(await serviceSettles(opts(s))).toEqual({ ok: true });
  });

  it('accepts a service that is not running at all (not enrolled yet)', async () => {
    expect(await serviceSettles(opts(fakeSystemctl(['inactive dead 0'])))).toEqual({ ok: true });
  });

  it('refuses one that restarts while settling, one that failed, one that never comes up', async () => {
    const loop = fakeSystemctl([
      'active running 3',
      'active running 3',
      'activating auto-restart 4',
      'active running 4',
    ]);
    expect(await serviceSettles(opts(loop))).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/did not stay up/),
    });
    expect(
      await serviceSettles(opts(fakeSystemctl(['activating start 0', 'failed watchdog 0']))),
    ).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/failed \(watchdog\)/),
    });
    expect(await serviceSettles(opts(fakeSystemctl(['activating start 0'])))).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/did not become active/),
    });
  });
});
