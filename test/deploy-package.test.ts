// The gateway's Debian package, built for real (esbuild + dpkg-deb, ~15 s) and then checked:
// its contents and control fields, its units with `systemd-analyze verify`, its scripts with
// shellcheck, the bundled agent and its native modules run from an unpacked copy, and the package
// installs with the real dpkg (maintainer scripts and all) into a copy-on-write root of this
// machine's own Debian — an overlay on / in a private mount namespace, so the host is untouched.
// The same install into a clean Debian made by debootstrap is the opt-in `npm run test:deploy`
// (test/deploy-debootstrap.test.ts), because it downloads a system on its first run.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  elfMachine,
  type GatewayPackage,
  nodeModuleVersion,
  PackagingError,
  packageGateway,
} from '../scripts/package-gateway.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hostArch = process.arch === 'arm64' ? 'arm64' : 'amd64';

let work: string;
let pkg: GatewayPackage;
let listing: Array<{ mode: string; owner: string; path: string; link?: string }>;

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: opts.env ?? process.env,
    input: opts.input,
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'wp-deb-'));
  pkg = await packageGateway({ repoRoot, arch: hostArch, outDir: path.join(work, 'out') });
  listing = execFileSync('dpkg-deb', ['-c', pkg.debFile], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => {
      // drwxr-xr-x root/root         0 2026-01-01 00:00 ./usr/  (-> target for links)
      const m = /^(\S+)\s+(\S+)\s+\d+\s+\S+\s+\S+\s+\.(\/\S*)(?: -> (\S+))?$/.exec(line);
      if (!m) throw new Error(`unexpected dpkg-deb -c line: ${line}`);
      return { mode: m[1] as string, owner: m[2] as string, path: m[3] as string, link: m[4] };
    });
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const entry = (p: string) => listing.find((e) => e.path === p);
const rel = () => `/usr/lib/wattproof-agent/releases/${pkg.version}`;

describe('the gateway Debian package', () => {
  it('has the agent, its wrapper, units, udev rule, sample config, docs — all root-owned', () => {
    const expected: Array<[string, string]> = [
      ['/usr/bin/wattproof-agent', '-rwxr-xr-x'],
      [`${rel()}/lib/wattproof-agent.mjs`, '-rwxr-xr-x'],
      [`${rel()}/package.json`, '-rw-r--r--'],
      [`${rel()}/node_modules/better-sqlite3/build/Release/better_sqlite3.node`, '-rw-r--r--'],
      [`${rel()}/node_modules/better-sqlite3/lib/index.js`, '-rw-r--r--'],
      ['/usr/lib/systemd/system/wattproof-agent.service', '-rw-r--r--'],
      ['/usr/lib/systemd/system/wattproof-agent-update.path', '-rw-r--r--'],
      ['/usr/lib/systemd/system/wattproof-agent-update.service', '-rw-r--r--'],
      ['/usr/lib/udev/rules.d/70-wattproof-rs485.rules', '-rw-r--r--'],
      ['/etc/wattproof/agent.yaml.example', '-rw-r--r--'],
      ['/etc/wattproof/', 'drwxr-x---'],
      ['/usr/share/doc/wattproof-agent/copyright', '-rw-r--r--'],
      ['/usr/share/doc/wattproof-agent/installer.md', '-rw-r--r--'],
      ['/usr/share/doc/wattproof-agent/operations.md', '-rw-r--r--'],
      ['/usr/share/wattproof-agent/first-run.sh', '-rwxr-xr-x'],
    ];
    for (const [p, mode] of expected) {
      expect(entry(p), p).toBeDefined();
      expect(entry(p)?.mode, p).toBe(mode);
    }
    expect(entry('/usr/lib/wattproof-agent/current')).toMatchObject({
      mode: 'lrwxrwxrwx',
      link: `releases/${pkg.version}`,
    });
    expect(listing.every((e) => e.owner === 'root/root')).toBe(true);
    // The sample config is the agent's own commented example, copied at build time.
    const example = readFileSync(path.join(repoRoot, 'deploy/agent/agent.example.yaml'), 'utf8');
    expect(readFileSync(path.join(pkg.stageDir, 'etc/wattproof/agent.yaml.example'), 'utf8')).toBe(example);
  });

  it('ships only what runs: no sources, tests, build leftovers or other architectures', () => {
    const files = listing.filter((e) => !e.mode.startsWith('d')).map((e) => e.path);
    const bad = files.filter(
      (p) =>
        /\.(ts|cc|cpp|c|h|gyp|map)$/.test(p) ||
        /\/(src|deps|test|tests|obj|obj\.target)\//.test(p.replace(/\/debug\/src\//, '/debug/lib/')) ||
        /test_extension\.node$/.test(p) ||
        /\/prebuilds\/(?!linux-(x64|arm64)\/)/.test(p) ||
        (hostArch === 'amd64' && /linux-arm64/.test(p)) ||
        /musl\.node$/.test(p),
    );
    expect(bad).toEqual([]);
    const natives = files.filter((p) => p.endsWith('.node'));
    expect(natives.sort()).toEqual(
      [
        `${rel()}/node_modules/@serialport/bindings-cpp/prebuilds/linux-${hostArch === 'amd64' ? 'x64' : 'arm64'}/@serialport+bindings-cpp.${hostArch === 'amd64' ? '' : 'armv8.'}glibc.node`,
        `${rel()}/node_modules/better-sqlite3/build/Release/better_sqlite3.node`,
      ].sort(),
    );
    // Only the native packages and their dependencies sit beside the bundle.
    const topPackages = new Set(
      files
        .filter((p) => p.startsWith(`${rel()}/node_modules/`))
        .map((p) => {
          const parts = p.slice(`${rel()}/node_modules/`.length).split('/');
          return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
        }),
    );
    expect([...topPackages].sort()).toEqual([
      '@serialport/bindings-cpp',
      '@serialport/bindings-interface',
      'better-sqlite3',
      'bindings',
      'file-uri-to-path',
      'ms',
      'node-gyp-build',
    ]);
    expect(statSync(pkg.debFile).size).toBeLessThan(8 * 1024 * 1024);
  });

  it('declares its architecture, the Node.js major of its native code, and its conffiles', () => {
    const control = execFileSync('dpkg-deb', ['-f', pkg.debFile], { encoding: 'utf8' });
    expect(control).toMatch(/^Package: wattproof-agent$/m);
    expect(control).toMatch(new RegExp(`^Architecture: ${hostArch}$`, 'm'));
    expect(control).toMatch(new RegExp(`^Version: ${pkg.version.replace(/\./g, '\\.')}$`, 'm'));
    expect(control).toMatch(/^Depends: nodejs \(>= 20\), nodejs \(<< 21\), ca-certificates, passwd$/m);
    const info = execFileSync('dpkg-deb', ['-I', pkg.debFile], { encoding: 'utf8' });
    for (const f of ['postinst', 'prerm', 'postrm', 'conffiles']) expect(info).toContain(f);
    const ctl = path.join(work, 'control');
    execFileSync('dpkg-deb', ['-e', pkg.debFile, ctl]);
    expect(readFileSync(path.join(ctl, 'conffiles'), 'utf8')).toBe('/etc/wattproof/agent.yaml.example\n');
    expect(pkg.nodeMajor).toBe(20);
    expect(
      nodeModuleVersion(
        path.join(pkg.stageDir, `${rel()}/node_modules/better-sqlite3/build/Release/better_sqlite3.node`),
      ),
    ).toBe(115);
  });

  it('its units pass `systemd-analyze verify` against the package’s own files', () => {
    // A root with the package unpacked plus the machine's systemd units (targets it refers to).
    const root = path.join(work, 'verify-root');
    execFileSync('dpkg-deb', ['-x', pkg.debFile, root]);
    cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), {
      recursive: true,
      force: false,
      errorOnExist: false,
      dereference: false,
    });
    const units = [
      'wattproof-agent.service',
      'wattproof-agent-update.path',
      'wattproof-agent-update.service',
    ];
    const r = sh('systemd-analyze', ['verify', `--root=${root}`, ...units]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // And verify does catch a broken unit here (so the pass above means something).
    const broken = path.join(root, 'usr/lib/systemd/system/wattproof-agent.service');
    execFileSync('sed', ['-i', 's/^WatchdogSec=/WatchdogSecs=/', broken]);
    rmSync(path.join(root, 'usr/bin/wattproof-agent'));
    const bad = sh('systemd-analyze', ['verify', `--root=${root}`, 'wattproof-agent.service']);
    expect(bad.stderr).toMatch(/Unknown key 'WatchdogSecs'/);
    expect(bad.stderr).toMatch(/wattproof-agent is not executable/);
  });

  it('the agent unit is hardened and waits for configuration and enrolment', () => {
    const unit = readFileSync(path.join(repoRoot, 'deploy/gateway/systemd/wattproof-agent.service'), 'utf8');
    const keys = new Map<string, string[]>();
    for (const line of unit.split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) keys.set(m[1] as string, [...(keys.get(m[1] as string) ?? []), m[2] as string]);
    }
    const one = (k: string) => keys.get(k)?.join(' ');
    expect(one('Type')).toBe('notify');
    expect(one('NotifyAccess')).toBe('all');
    expect(one('WatchdogSec')).toBe('60s');
    expect(one('Restart')).toBe('always');
    expect(one('User')).toBe('wattproof');
    expect(one('SupplementaryGroups')).toBe('dialout');
    expect(one('StateDirectory')).toBe('wattproof');
    expect(one('ConfigurationDirectory')).toBe('wattproof');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('DevicePolicy')).toBe('closed');
    expect(keys.get('DeviceAllow')?.every((d) => /^char-tty(USB|ACM|AMA|S|SC) rw$/.test(d))).toBe(true);
    expect(one('RestrictAddressFamilies')).toBe('AF_UNIX AF_INET AF_INET6');
    for (const k of ['MemoryMax', 'CPUQuota', 'TasksMax']) expect(keys.has(k), k).toBe(true);
    expect(keys.get('ConditionPathExists')).toEqual([
      '/etc/wattproof/agent.yaml',
      '/var/lib/wattproof/gateway.key',
      '/var/lib/wattproof/mqtt-credentials.json',
    ]);
    // The unit's state files are the agent's: the key file name and the credentials file name
    // the agent's own code and example config use.
    expect(readFileSync(path.join(repoRoot, 'agent/identity.ts'), 'utf8')).toContain(
      "KEY_FILE = 'gateway.key'",
    );
    expect(readFileSync(path.join(repoRoot, 'deploy/agent/agent.example.yaml'), 'utf8')).toContain(
      'mqtt-credentials.json',
    );
  });

  it('its shell scripts pass `sh -n` and shellcheck', () => {
    const scripts = ['wattproof-agent', 'debian/postinst', 'debian/prerm', 'debian/postrm'].map((s) =>
      path.join(repoRoot, 'deploy/gateway', s),
    );
    for (const s of scripts) expect(sh('sh', ['-n', s]).code, s).toBe(0);
    const r = sh('shellcheck', ['-s', 'sh', ...scripts]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('unpacked anywhere, the wrapper runs the bundled agent and its native modules load', () => {
    const root = path.join(work, 'unpacked');
    execFileSync('dpkg-deb', ['-x', pkg.debFile, root]);
    const home = path.join(root, 'usr/lib/wattproof-agent/current');
    const env = { ...process.env, WATTPROOF_AGENT_HOME: home };
    const wrapper = path.join(root, 'usr/bin/wattproof-agent');
    const v = sh(wrapper, ['--version'], { env });
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toBe(pkg.version);
    expect(sh(wrapper, ['--help'], { env }).stdout).toMatch(/Commands:[\s\S]*init[\s\S]*doctor/);

    // `init` from the bundle: the protocol's crypto and the identity file, end to end.
    const state = path.join(work, 'state');
    const init = sh(wrapper, ['init', '--state-dir', state, '--json'], { env });
    expect(init.code).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ gatewayId: expect.stringMatching(/^gw-[a-z2-7]{16}$/) });
    expect(statSync(path.join(state, 'gateway.key')).mode & 0o777).toBe(0o600);

    // The external packages resolve from the release directory and their .node files load.
    const probe = [
      "import { createRequire } from 'node:module';",
      `const require = createRequire(${JSON.stringify(path.join(home, 'lib/wattproof-agent.mjs'))});`,
      "const Database = require('better-sqlite3');",
      `const db = new Database(${JSON.stringify(path.join(work, 'probe.db'))});`,
      "db.pragma('journal_mode = WAL');",
      "db.exec('create table t (x integer)'); db.prepare('insert into t values (?)').run(7);",
      "const { SerialPort } = { SerialPort: require('@serialport/bindings-cpp').autoDetect() };",
      "console.log(JSON.stringify({ sqlite: db.prepare('select sqlite_version() v').get().v, x: db.prepare('select x from t').get().x, serial: typeof SerialPort.open }));",
    ].join('\n');
    const p = sh(process.execPath, ['--input-type=module', '-e', probe]);
    expect(p.stderr).toBe('');
    expect(JSON.parse(p.stdout)).toMatchObject({
      x: 7,
      serial: 'function',
      sqlite: expect.stringMatching(/^3\./),
    });
    expect(require_resolve_in(home, 'better-sqlite3')).toContain(
      path.join(root, 'usr/lib/wattproof-agent/releases', pkg.version),
    );
  });

  it('the wrapper says what to install when Node.js is missing', () => {
    const r = sh(path.join(repoRoot, 'deploy/gateway/wattproof-agent'), ['--version'], {
      env: { PATH: '/usr/bin:/bin', WATTPROOF_NODE: 'no-such-node' },
    });
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/Node\.js \(no-such-node\) is not installed; install the nodejs package/);
  });

  it('refuses arm64 without an aarch64 better_sqlite3.node, and a binary for the wrong CPU', async () => {
    await expect(packageGateway({ repoRoot, arch: 'arm64', outDir: path.join(work, 'arm') })).rejects.toThrow(
      /arm64 needs a better_sqlite3\.node built for aarch64[\s\S]*--native PATH/,
    );
    const x64 = path.join(repoRoot, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
    expect(elfMachine(x64)).toBe(hostArch === 'amd64' ? 0x3e : 0xb7);
    await expect(
      packageGateway({
        repoRoot,
        arch: hostArch === 'amd64' ? 'arm64' : 'amd64',
        nativeSqlite: x64,
        outDir: path.join(work, 'arm'),
      }),
    ).rejects.toThrow(PackagingError);
    await expect(
      packageGateway({
        repoRoot,
        arch: 'arm64',
        nativeSqlite: path.join(repoRoot, 'package.json'),
        outDir: path.join(work, 'arm'),
      }),
    ).rejects.toThrow(/is not an aarch64 Linux binary \(ELF machine none\)/);
  });
});

function require_resolve_in(home: string, name: string): string {
  const r = sh(process.execPath, [
    '--input-type=module',
    '-e',
    `import { createRequire } from 'node:module'; console.log(createRequire(${JSON.stringify(path.join(home, 'lib/x.mjs'))}).resolve(${JSON.stringify(name)}));`,
  ]);
  return r.stdout.trim();
}

/** Whether this process may make a private mount namespace with an overlay on / (root in CI). */
function canOverlay(): boolean {
  if (process.getuid?.() !== 0) return false;
  const d = mkdtempSync(path.join(tmpdir(), 'wp-ovl-probe-'));
  try {
    for (const s of ['u', 'w', 'm']) mkdirSync(path.join(d, s));
    const r = sh('unshare', [
      '-m',
      '--propagation',
      'private',
      'mount',
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=/,upperdir=${d}/u,workdir=${d}/w`,
      `${d}/m`,
    ]);
    return r.code === 0;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

describe.runIf(canOverlay() && existsSync('/usr/bin/dpkg'))(
  'installing with dpkg into a copy-on-write root of this machine',
  () => {
    it('creates the user and directories, starts nothing, and the installed agent runs (--version, init, doctor)', {
      timeout: 180_000,
    }, () => {
      const d = mkdtempSync(path.join(tmpdir(), 'wp-ovl-'));
      try {
        for (const s of ['u', 'w', 'm']) mkdirSync(path.join(d, s));
        const deb = pkg.debFile;
        // Everything after the overlay mount runs chrooted in it; the host sees none of it.
        const script = `
set -eu
m=${d}/m
mount -t overlay overlay -o lowerdir=/,upperdir=${d}/u,workdir=${d}/w "$m"
mount -t proc proc "$m/proc"
mount --rbind /dev "$m/dev"
chroot "$m" /bin/sh -eu -c '
  ! getent passwd wattproof >/dev/null || { echo "the root is not clean: a wattproof user exists"; exit 9; }
  dpkg -i ${deb} >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 10; }
  echo "status=$(dpkg-query -W -f="\\\${Status}" wattproof-agent)"
  echo "user=$(id -nG wattproof | tr " " ",")"
  echo "state=$(stat -c "%U:%G:%a" /var/lib/wattproof)"
  echo "etc=$(stat -c "%U:%G:%a" /etc/wattproof)"
  echo "version=$(wattproof-agent --version)"
  cp /etc/wattproof/agent.yaml.example /etc/wattproof/agent.yaml
  chgrp wattproof /etc/wattproof/agent.yaml && chmod 0640 /etc/wattproof/agent.yaml
  runuser -u wattproof -- wattproof-agent init --config /etc/wattproof/agent.yaml --json >/tmp/init.json
  echo "key=$(stat -c "%U:%a" /var/lib/wattproof/gateway.key)"
  set +e
  runuser -u wattproof -- wattproof-agent doctor >/tmp/doctor.out 2>/tmp/doctor.err
  echo "doctor=$?"
  set -e
  echo "doctor-stderr=$(head -c 300 /tmp/doctor.err | tr "\\n" " ")"
  dpkg -r wattproof-agent >/tmp/dpkg-r.log 2>&1 || { cat /tmp/dpkg-r.log; exit 11; }
  echo "removed-runtime=$(test -e /usr/lib/wattproof-agent && echo no || echo yes)"
  echo "kept-state=$(test -e /var/lib/wattproof/gateway.key && echo yes || echo no)"
'
`;
        const r = sh('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script]);
        const out = Object.fromEntries(
          r.stdout
            .trim()
            .split('\n')
            .filter((l) => l.includes('='))
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        );
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(out.status).toBe('install ok installed');
        expect(out.user?.split(',').sort()).toEqual(['dialout', 'wattproof']);
        expect(out.state).toBe('wattproof:wattproof:700');
        expect(out.etc).toBe('root:wattproof:750');
        expect(out.version).toBe(pkg.version);
        expect(out.key).toBe('wattproof:600');
        // doctor ran in the installed tree (it reports the example's unreachable devices, or, while
        // its command is still being written, that it is not available): a documented exit code and
        // no crash of the bundle (a missing module or a stack trace).
        expect(['0', '1'], out['doctor-stderr']).toContain(out.doctor);
        expect(out['doctor-stderr']).not.toMatch(/Cannot find (module|package)|ERR_|at .*\.mjs:\d+/);
        expect(out['removed-runtime']).toBe('yes');
        expect(out['kept-state']).toBe('yes');
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    });

    it('first-run.sh installs, configures and creates the key, and stops with a clear message when enrolment fails', {
      timeout: 180_000,
    }, () => {
      const d = mkdtempSync(path.join(tmpdir(), 'wp-ovl-'));
      try {
        for (const s of ['u', 'w', 'm']) mkdirSync(path.join(d, s));
        const boot = path.join(d, 'boot');
        mkdirSync(path.join(boot, 'wattproof'), { recursive: true });
        cpSync(pkg.debFile, path.join(boot, 'wattproof', path.basename(pkg.debFile)));
        cpSync(
          path.join(repoRoot, 'deploy/agent/agent.example.yaml'),
          path.join(boot, 'wattproof/agent.yaml'),
        );
        const firstRun = path.join(repoRoot, 'deploy/gateway/first-run.sh');
        // Port 9 on loopback: nothing listens, so enrolment fails the way it does on site without
        // network (or, while enroll is still a stub, because it is not available).
        const script = `
set -eu
m=${d}/m
mount -t overlay overlay -o lowerdir=/,upperdir=${d}/u,workdir=${d}/w "$m"
mount -t proc proc "$m/proc"
mount --rbind /dev "$m/dev"
chroot "$m" /bin/sh -c '
  WATTPROOF_BOOT_DIR=${boot} ${firstRun} --hub http://127.0.0.1:9 --token wpt_test </dev/null >/tmp/fr.out 2>/tmp/fr.err
  echo "rc=$?"
  echo "err=$(tail -n 1 /tmp/fr.err)"
  echo "installed=$(dpkg-query -W -f="\\\${Version}" wattproof-agent)"
  echo "config=$(stat -c "%U:%G:%a" /etc/wattproof/agent.yaml)"
  echo "key=$(stat -c "%U:%a" /var/lib/wattproof/gateway.key)"
  echo "token-kept=$(test -e ${boot}/wattproof/enroll-token && echo yes || echo no)"
  WATTPROOF_BOOT_DIR=${boot} ${firstRun} --hub http://127.0.0.1:9 --token wpt_test </dev/null >/tmp/fr2.out 2>&1
  echo "again=$(grep -c "already has a key" /tmp/fr2.out)"
'
`;
        const r = sh('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script]);
        const out = Object.fromEntries(
          r.stdout
            .trim()
            .split('\n')
            .filter((l) => l.includes('='))
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        );
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(out.rc).toBe('1');
        expect(out.err).toMatch(/enrolment failed \(see above\)\. Check the hub URL and network/);
        expect(out.installed).toBe(pkg.version);
        expect(out.config).toBe('root:wattproof:640');
        expect(out.key).toBe('wattproof:600');
        expect(out.again).toBe('1');
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    });
  },
);
