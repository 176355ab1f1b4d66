// Opt-in (`npm run test:deploy`): the gateway package installs into a clean Debian made by
// debootstrap — Debian 13 "trixie", minbase, the release Raspberry Pi OS is built on and the
// first whose own nodejs package is 20 — and runs there with Debian's Node.js, not this machine's.
// apt resolves the package's dependencies from the Debian mirror (nodejs, ca-certificates).
//
// The debootstrap root (~2.5 minutes to make, 210 MB) and apt's downloaded .debs are cached in
// ~/.cache/wattproof/debootstrap (WATTPROOF_CACHE_DIR overrides); each run mounts a throw-away
// overlay on the cached root, so every run starts from the same clean system. Needs root, network
// on the first run, and debootstrap (apt-get install debootstrap). `npm test` has the fast
// equivalent: the same install into an overlay of this machine's own Debian (deploy-package).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayPackage, packageGateway } from '../scripts/package-gateway.js';

const enabled = process.env.WATTPROOF_DEBOOTSTRAP === '1';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SUITE = 'trixie';
const MIRROR = process.env.WATTPROOF_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const cacheDir = path.join(
  process.env.WATTPROOF_CACHE_DIR ?? path.join(homedir(), '.cache/wattproof'),
  'debootstrap',
);
const rootCache = path.join(cacheDir, `${SUITE}-minbase`);
const aptCache = path.join(cacheDir, 'apt-archives');

function sh(cmd: string, args: string[], timeoutMs = 600_000) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let work: string;
let pkg: GatewayPackage;

describe.runIf(enabled)(`installing into a clean Debian ${SUITE} made by debootstrap`, () => {
  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('the debootstrap suite needs root (chroot, mounts)');
    if (sh('sh', ['-c', 'command -v debootstrap']).code !== 0) {
      throw new Error('debootstrap is not installed: apt-get install debootstrap');
    }
    work = mkdtempSync(path.join(tmpdir(), 'wp-debootstrap-'));
    const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
    pkg = await packageGateway({ repoRoot, arch, outDir: path.join(work, 'out') });
    if (!existsSync(path.join(rootCache, 'usr/bin/dpkg'))) {
      // Built beside the cache and renamed into place, so an interrupted run leaves no half root.
      mkdirSync(cacheDir, { recursive: true });
      const building = `${rootCache}.building-${process.pid}`;
      const r = sh('debootstrap', ['--variant=minbase', SUITE, building, MIRROR], 900_000);
      if (r.code !== 0) {
        rmSync(building, { recursive: true, force: true });
        throw new Error(
          `debootstrap ${SUITE} from ${MIRROR} failed (is the mirror reachable?):\n${r.stderr.slice(-2000)}`,
        );
      }
      renameSync(building, rootCache);
    }
    mkdirSync(path.join(aptCache, 'partial'), { recursive: true });
  }, 1_200_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('apt installs it with Debian’s nodejs; the user, directories and agent work; removal keeps the key', {
    timeout: 600_000,
  }, () => {
    const u = path.join(work, 'u');
    const w = path.join(work, 'w');
    const m = path.join(work, 'm');
    for (const d of [u, w, m]) mkdirSync(d);
    const deb = path.basename(pkg.debFile);
    const inner = `
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends /tmp/${deb} >/tmp/apt.log 2>&1 || { tail -30 /tmp/apt.log; exit 3; }
echo "node=$(node --version)"
echo "nodejs=$(dpkg-query -W -f='\${Version}' nodejs)"
echo "status=$(dpkg-query -W -f='\${Status}' wattproof-agent)"
echo "user=$(id -nG wattproof | tr ' ' ',')"
echo "state=$(stat -c '%U:%G:%a' /var/lib/wattproof)"
echo "version=$(wattproof-agent --version 2>/tmp/version.err)"
echo "version-stderr=$(cat /tmp/version.err)"
install -o root -g wattproof -m 0640 /etc/wattproof/agent.yaml.example /etc/wattproof/agent.yaml
runuser -u wattproof -- wattproof-agent init --json >/tmp/init.json
echo "init=$(cat /tmp/init.json)"
echo "key=$(stat -c '%U:%a' /var/lib/wattproof/gateway.key)"
echo "natives=$(node --input-type=module -e "
  import { createRequire } from 'node:module';
  const r = createRequire('/usr/lib/wattproof-agent/current/lib/wattproof-agent.mjs');
  const D = r('better-sqlite3');
  const db = new D('/tmp/probe.db'); db.pragma('journal_mode = WAL');
  console.log(db.prepare('select sqlite_version() v').get().v + ',' + typeof r('@serialport/bindings-cpp').autoDetect().open);
")"
set +e
runuser -u wattproof -- wattproof-agent doctor >/tmp/doctor.out 2>/tmp/doctor.err
echo "doctor=$?"
set -e
echo "doctor-stderr=$(head -c 300 /tmp/doctor.err | tr '\\n' ' ')"
apt-get remove -y -qq wattproof-agent >/tmp/remove.log 2>&1 || { cat /tmp/remove.log; exit 4; }
echo "removed=$(test -e /usr/lib/wattproof-agent && echo no || echo yes)"
echo "kept-key=$(test -e /var/lib/wattproof/gateway.key && echo yes || echo no)"
`;
    writeFileSync(path.join(work, 'inner.sh'), inner);
    const outer = `
set -eu
mount -t overlay overlay -o lowerdir=${rootCache},upperdir=${u},workdir=${w} ${m}
mount -t proc proc ${m}/proc
mount --rbind /dev ${m}/dev
mount --bind ${aptCache} ${m}/var/cache/apt/archives
cp /etc/resolv.conf ${m}/etc/resolv.conf
cp ${pkg.debFile} ${work}/inner.sh ${m}/tmp/
chroot ${m} /bin/sh /tmp/inner.sh
`;
    const r = sh('unshare', ['-m', '--propagation', 'private', 'sh', '-c', outer]);
    const out = Object.fromEntries(
      r.stdout
        .split('\n')
        .filter((l) => /^[a-z-]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(out.node).toMatch(/^v20\./);
    expect(out.nodejs).toMatch(/^20\.\d+\.\d+\+dfsg/); // Debian's own build, not this machine's
    expect(out.status).toBe('install ok installed');
    expect(out.user?.split(',').sort()).toEqual(['dialout', 'wattproof']);
    expect(out.state).toBe('wattproof:wattproof:700');
    expect(out.version).toBe(pkg.version);
    expect(out['version-stderr']).toBe(''); // ca-certificates came with it: no CA warning
    expect(JSON.parse(out.init ?? '{}')).toMatchObject({ gatewayId: expect.stringMatching(/^gw-/) });
    expect(out.key).toBe('wattproof:600');
    expect(out.natives).toMatch(/^3\.\d+\.\d+,function$/);
    expect(['0', '1'], out['doctor-stderr']).toContain(out.doctor);
    expect(out['doctor-stderr']).not.toMatch(/Cannot find (module|package)|ERR_|at .*\.mjs:\d+/);
    expect(out.removed).toBe('yes');
    expect(out['kept-key']).toBe('yes');
  });
});
