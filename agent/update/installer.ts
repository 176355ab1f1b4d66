// Installs a verified update bundle side by side and rolls it back if it does not come up:
//
//   <root>/usr/lib/wattproof-agent/releases/<version>/   one directory per release
//   <root>/usr/lib/wattproof-agent/current -> releases/<version>   switched with one rename(2)
//   <root>/usr/lib/wattproof-agent/update-pending.json   while a switch is not yet proven healthy
//
// Order: verify everything (bundle.ts) → unpack into a staging directory → check the unpacked
// release → rename it into releases/ → write the pending marker → switch `current` → restart the
// service → health check → on success remove the marker and prune old releases; on failure switch
// `current` back, restart again, delete the failed release. A power cut at any point leaves
// `current` on either the old or the new release, and the marker lets `recover()` finish the job.
// The root directory, the restart and the health check are passed in, so tests run all of it in a
// temporary directory.
import { execFile } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { fsyncDir, writeFileAtomic } from '../files.js';
import { type BundleExpectations, type UpdateManifest, UpdateRefused, verifyUpdateBundle } from './bundle.js';
import { compareVersions, isVersion } from './version.js';

export const RUNTIME_ENTRY = 'lib/wattproof-agent.mjs';

export interface HealthContext {
  version: string;
  /** The new release's directory (absolute). */
  releaseDir: string;
  root: string;
}

export type HealthResult = { ok: true } | { ok: false; detail: string };

export interface UpdateInstallerOptions {
  /** The filesystem root the layout lives under; '/' on a gateway. */
  root: string;
  /** Release public keys the manifest must be signed by. */
  pinnedKeys: readonly Uint8Array[];
  arch: 'amd64' | 'arm64';
  /** The Node.js major that runs the agent (process.versions.node's). */
  nodeMajor: number;
  /** Restarts the agent service on whatever `current` points to now. */
  restart: () => Promise<void>;
  /** Decides whether the release `current` points to came up healthy. */
  healthCheck: (ctx: HealthContext) => Promise<HealthResult>;
  /** Releases kept besides the current and the previous one. */
  keepOlder?: number;
  log?: (line: string) => void;
}

export type UpdateOutcome =
  | { outcome: 'installed'; version: string; previous: string | undefined }
  | { outcome: 'rolled-back'; version: string; previous: string | undefined; detail: string }
  | { outcome: 'refused'; reason: string; detail: string };

interface PendingMarker {
  version: string;
  previous: string | undefined;
  startedAt: number;
}

function execFileText(cmd: string, args: string[], input: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
    child.stdin?.end(Buffer.from(input));
  });
}

export class UpdateInstaller {
  readonly libDir: string;
  readonly releasesDir: string;
  readonly currentLink: string;
  readonly pendingFile: string;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: UpdateInstallerOptions) {
    this.libDir = path.join(opts.root, 'usr/lib/wattproof-agent');
    this.releasesDir = path.join(this.libDir, 'releases');
    this.currentLink = path.join(this.libDir, 'current');
    this.pendingFile = path.join(this.libDir, 'update-pending.json');
    this.log = opts.log ?? (() => {});
  }

  /** The version `current` points to, or undefined when nothing is installed. */
  currentVersion(): string | undefined {
    try {
      return path.basename(readlinkSync(this.currentLink));
    } catch {
      return undefined;
    }
  }

  releaseDir(version: string): string {
    return path.join(this.releasesDir, version);
  }

  /** Verifies and installs a bundle; never throws for a bad bundle (it is 'refused'). */
  async install(bundle: Uint8Array, opts: { allowDowngrade?: boolean } = {}): Promise<UpdateOutcome> {
    let unlock: (() => void) | undefined;
    try {
      unlock = this.lock();
      await this.recover();
      const current = this.currentVersion();
      const expect: BundleExpectations = {
        arch: this.opts.arch,
        currentVersion: current,
        nodeMajor: this.opts.nodeMajor,
        allowDowngrade: opts.allowDowngrade,
      };
      const { manifest, tarball, kid } = verifyUpdateBundle(bundle, this.opts.pinnedKeys, expect);
      this.log(
        `bundle ${manifest.version} (${manifest.arch}) signed by ${kid}: signature and tarball verified`,
      );
      await this.unpack(manifest, tarball);
      return await this.switchAndCheck(manifest.version, current);
    } catch (err) {
      if (err instanceof UpdateRefused) {
        this.log(`refused: ${err.reason}: ${err.detail}`);
        return { outcome: 'refused', reason: err.reason, detail: err.detail };
      }
      throw err;
    } finally {
      unlock?.();
    }
  }

  /**
   * Finishes an update a power cut or crash interrupted: if the pending marker is there, check
   * the release `current` points to; keep it when healthy, else go back to the previous one.
   */
  async recover(): Promise<UpdateOutcome | undefined> {
    let pending: PendingMarker;
    try {
      pending = JSON.parse(readFileSync(this.pendingFile, 'utf8')) as PendingMarker;
    } catch {
      return undefined;
    }
    this.log(`an update to ${pending.version} was interrupted; checking it`);
    if (this.currentVersion() !== pending.version) {
      // The switch never happened: the old release still runs; drop the unproven one.
      rmSync(this.pendingFile, { force: true });
      rmSync(this.releaseDir(pending.version), { recursive: true, force: true });
      return {
        outcome: 'rolled-back',
        version: pending.version,
        previous: pending.previous,
        detail: 'interrupted before the switch',
      };
    }
    await this.opts.restart();
    return this.checkOrRollBack(pending.version, pending.previous);
  }

  private lock(): () => void {
    mkdirSync(this.libDir, { recursive: true });
    const file = path.join(this.libDir, '.update.lock');
    const take = (): number => openSync(file, 'wx', 0o600);
    let fd: number;
    try {
      fd = take();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      let alive = false;
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch {
          alive = false;
        }
      }
      if (alive)
        throw new UpdateRefused('busy', `another update (pid ${pid}) is running; try again when it is done`);
      rmSync(file, { force: true });
      fd = take();
    }
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return () => rmSync(file, { force: true });
  }

  private async unpack(manifest: UpdateManifest, tarball: Uint8Array): Promise<void> {
    mkdirSync(this.releasesDir, { recursive: true });
    const staging = path.join(this.releasesDir, `.staging-${manifest.version}-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true, mode: 0o755 });
    try {
      // The tarball is signed (its hash is in the verified manifest); tar still refuses '..'
      // members and strips leading '/' by default.
      await execFileText(
        'tar',
        ['-xzf', '-', '-C', staging, '--no-same-owner', '--no-same-permissions'],
        tarball,
      );
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw new UpdateRefused(
        'runtime-invalid',
        `the runtime tarball does not unpack: ${(err as Error).message}`,
      );
    }
    const problem = this.checkRelease(staging, manifest.version);
    if (problem) {
      rmSync(staging, { recursive: true, force: true });
      throw new UpdateRefused('runtime-invalid', problem);
    }
    const dest = this.releaseDir(manifest.version);
    if (this.currentVersion() === manifest.version) {
      rmSync(staging, { recursive: true, force: true });
      throw new UpdateRefused('not-newer', `${manifest.version} is the running release`);
    }
    rmSync(dest, { recursive: true, force: true });
    renameSync(staging, dest);
    fsyncDir(this.releasesDir);
  }

  /** What is wrong with an unpacked release, or undefined when it has what a release needs. */
  private checkRelease(dir: string, version: string): string | undefined {
    if (!existsSync(path.join(dir, RUNTIME_ENTRY))) return `the runtime has no ${RUNTIME_ENTRY}`;
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown };
      if (pkg.version !== version) {
        return `the runtime's package.json says version ${String(pkg.version)}, the manifest ${version}`;
      }
    } catch {
      return 'the runtime has no readable package.json';
    }
    return undefined;
  }

  /** Points `current` at `version` with one rename, so it is never missing or half-written. */
  private pointCurrentAt(version: string): void {
    const tmp = path.join(this.libDir, `.current.${process.pid}.tmp`);
    rmSync(tmp, { force: true });
    symlinkSync(path.join('releases', version), tmp);
    renameSync(tmp, this.currentLink);
    fsyncDir(this.libDir);
  }

  private async switchAndCheck(version: string, previous: string | undefined): Promise<UpdateOutcome> {
    const marker: PendingMarker = { version, previous, startedAt: Date.now() };
    writeFileAtomic(this.pendingFile, `${JSON.stringify(marker)}\n`, 0o644);
    this.pointCurrentAt(version);
    this.log(`current → ${version}; restarting the agent`);
    try {
      await this.opts.restart();
    } catch (err) {
      return this.rollBack(version, previous, `the restart failed: ${(err as Error).message}`);
    }
    return this.checkOrRollBack(version, previous);
  }

  private async checkOrRollBack(version: string, previous: string | undefined): Promise<UpdateOutcome> {
    let health: HealthResult;
    try {
      health = await this.opts.healthCheck({
        version,
        releaseDir: this.releaseDir(version),
        root: this.opts.root,
      });
    } catch (err) {
      health = { ok: false, detail: `the health check failed to run: ${(err as Error).message}` };
    }
    if (health.ok) {
      rmSync(this.pendingFile, { force: true });
      this.log(`${version} is healthy; update done`);
      this.prune(version, previous);
      return { outcome: 'installed', version, previous };
    }
    return this.rollBack(version, previous, health.detail);
  }

  private async rollBack(
    version: string,
    previous: string | undefined,
    detail: string,
  ): Promise<UpdateOutcome> {
    this.log(`${version} is not healthy (${detail}); rolling back to ${previous ?? 'nothing'}`);
    if (previous !== undefined && existsSync(this.releaseDir(previous))) {
      this.pointCurrentAt(previous);
      try {
        await this.opts.restart();
      } catch (err) {
        this.log(`restarting ${previous} after the rollback failed: ${(err as Error).message}`);
      }
    } else {
      rmSync(this.currentLink, { force: true });
    }
    rmSync(this.releaseDir(version), { recursive: true, force: true });
    rmSync(this.pendingFile, { force: true });
    return { outcome: 'rolled-back', version, previous, detail };
  }

  /** Deletes releases older than the current and previous ones beyond `keepOlder`. */
  private prune(current: string, previous: string | undefined): void {
    const keepOlder = this.opts.keepOlder ?? 1;
    const others = readdirSync(this.releasesDir)
      .filter((v) => isVersion(v) && v !== current && v !== previous)
      .sort((a, b) => compareVersions(b, a));
    for (const v of others.slice(keepOlder)) {
      this.log(`removing old release ${v}`);
      rmSync(this.releaseDir(v), { recursive: true, force: true });
    }
  }
}
