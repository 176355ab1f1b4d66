// First boot of a gateway: the cloud-init user-data template (validated by cloud-init's own
// schema, and parsed here to check what it writes and runs, in what order) and the first-run
// script for images without cloud-init (bash -n, shellcheck, and its decisions in --dry-run).
// deploy-package.test.ts runs first-run.sh for real against the built package.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadAgentConfig } from '../agent/config.js';
import { readPinnedReleaseKeys, releaseKeyFiles } from '../agent/update/bundle.js';
import { b64url, generateSecretKey, publicKeyOf } from '../protocol/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const template = path.join(repoRoot, 'deploy/gateway/cloud-init/user-data.yaml');
const firstRun = path.join(repoRoot, 'deploy/gateway/first-run.sh');

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: opts.env ?? process.env,
    input: opts.input ?? '',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wp-firstboot-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface WriteFile {
  path: string;
  content: string;
  permissions?: string;
  owner?: string;
}

const releasePub = b64url.encode(publicKeyOf(generateSecretKey()));
const values: Record<string, string> = {
  HOSTNAME: 'wattproof-gw-0042',
  HUB_HOST: 'hub.example.net',
  ENROLL_TOKEN: 'wpt_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  RELEASE_PUBLIC_KEY: releasePub,
  RS485_PATH: 'platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0-port0',
};

function rendered(): { text: string; doc: Record<string, unknown> } {
  const text = readFileSync(template, 'utf8').replace(/@([A-Z0-9_]+)@/g, (_m, k: string) => {
    const v = values[k];
    if (v === undefined) throw new Error(`the template has a placeholder @${k}@ the docs do not list`);
    return v;
  });
  return { text, doc: parse(text) as Record<string, unknown> };
}

describe('cloud-init user-data template', () => {
  it.runIf(has('cloud-init'))(
    'is valid cloud-config for cloud-init’s own schema (and the check can fail)',
    () => {
      const ok = sh('cloud-init', ['schema', '--config-file', template]);
      expect(ok.stdout + ok.stderr).toContain('Valid cloud-config');
      expect(ok.code).toBe(0);
      const filled = path.join(dir, 'user-data');
      writeFileSync(filled, rendered().text);
      expect(sh('cloud-init', ['schema', '--config-file', filled]).code).toBe(0);
      const broken = path.join(dir, 'broken');
      writeFileSync(
        broken,
        rendered().text.replace(
          '  - path: /etc/wattproof/release-key',
          '  - paths: /etc/wattproof/release-key',
        ),
      );
      const bad = sh('cloud-init', ['schema', '--config-file', broken]);
      expect(bad.code).not.toBe(0);
      expect(bad.stdout + bad.stderr).toMatch(/'path' is a required property/);
    },
  );

  it('documents every placeholder it has', () => {
    const text = readFileSync(template, 'utf8');
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    const used = new Set([...text.matchAll(/@([A-Z0-9_]+)@/g)].map((m) => m[1]));
    expect([...used].sort()).toEqual(Object.keys(values).sort());
    for (const k of used) expect(text).toMatch(new RegExp(`^#\\s+@${k}@\\s+\\S`, 'm'));
  });

  it('writes an agent.yaml the agent accepts, the release key, and the token only to /run', () => {
    const { doc } = rendered();
    const files = doc.write_files as WriteFile[];
    const byPath = new Map(files.map((f) => [f.path, f]));

    const agentYaml = byPath.get('/etc/wattproof/agent.yaml');
    expect(agentYaml?.permissions).toBe('0640');
    const cfgFile = path.join(dir, 'agent.yaml');
    writeFileSync(cfgFile, agentYaml?.content ?? '');
    const cfg = loadAgentConfig(cfgFile);
    expect(cfg.hub.url).toBe('mqtts://hub.example.net:8883');
    expect(cfg.gateway.stateDir).toBe('/var/lib/wattproof');
    expect(cfg.devices[0]?.transport).toMatchObject({
      type: 'serial',
      path: `/dev/serial/by-path/${values.RS485_PATH}`,
    });

    const key = byPath.get('/etc/wattproof/release-key');
    const keyFile = path.join(dir, 'release-key');
    writeFileSync(keyFile, key?.content ?? '');
    expect(readPinnedReleaseKeys(keyFile).map((k) => b64url.encode(k))).toEqual([releasePub]);
    // The line format is the one the release-key tool writes.
    expect(releaseKeyFiles(generateSecretKey()).publicLine).toMatch(
      /^# hub-[a-z2-7]{16}\n[A-Za-z0-9_-]{43}\n$/,
    );

    const token = files.filter((f) => f.content.includes(values.ENROLL_TOKEN as string));
    expect(token.map((f) => [f.path, f.permissions])).toEqual([['/run/wattproof/enroll-token', '0600']]);
  });

  it('runs install → init → enroll → start, stopping at the first failure, and forgets the token', () => {
    const { doc } = rendered();
    const cmds = (doc.runcmd as Array<string | string[]>).map((c) => (Array.isArray(c) ? c.join(' ') : c));
    expect(cmds[0]).toBe('set -e');
    const at = (re: RegExp) => {
      const i = cmds.findIndex((c) => re.test(c));
      expect(i, String(re)).toBeGreaterThan(0);
      return i;
    };
    const install = at(
      /^DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \/boot\/firmware\/wattproof\/wattproof-agent_\*_arm64\.deb$/,
    );
    const init = at(/^runuser -u wattproof -- wattproof-agent init$/);
    const enroll = at(
      /^runuser -u wattproof -- wattproof-agent enroll --hub "https:\/\/hub\.example\.net" --token "\$\(cat \/run\/wattproof\/enroll-token\)"$/,
    );
    const forget = at(/^rm -f \/run\/wattproof\/enroll-token$/);
    const start = at(/^systemctl enable --now wattproof-agent\.service$/);
    expect(install < init && init < enroll && enroll < forget && forget < start).toBe(true);
    expect(doc.package_update).toBe(true);
    // The token appears once: in the /run file, never on a command line cloud-init logs.
    expect(JSON.stringify(doc).split(values.ENROLL_TOKEN as string).length - 1).toBe(1);
  });
});

describe('first-run.sh', () => {
  it('passes bash -n and shellcheck', () => {
    expect(sh('bash', ['-n', firstRun]).code).toBe(0);
    if (!has('shellcheck')) throw new Error('shellcheck is not installed (apt-get install shellcheck)');
    const r = sh('shellcheck', [firstRun]);
    expect(r.stdout + r.stderr).toBe('');
  });

  function bootDir(files: Record<string, string>): string {
    const boot = path.join(dir, 'boot');
    mkdirSync(path.join(boot, 'wattproof'), { recursive: true });
    for (const [name, content] of Object.entries(files))
      writeFileSync(path.join(boot, 'wattproof', name), content);
    return boot;
  }
  const env = (boot: string) => ({ ...process.env, WATTPROOF_BOOT_DIR: boot });

  it('takes the package, config, key, hub and token from the boot partition, in order, never printing the token', () => {
    const token = 'wpt_secret-token-from-the-card';
    const boot = bootDir({
      'wattproof-agent_0.1.0_amd64.deb': '',
      'wattproof-agent_0.1.0_arm64.deb': '',
      'agent.yaml': 'x',
      'release-key': 'y',
      'enroll-token': `${token}\n`,
      'hub-url': 'https://hub.example.net\n',
    });
    const arch = sh('dpkg', ['--print-architecture']).stdout.trim();
    const r = sh(firstRun, ['--dry-run'], { env: env(boot) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(token);
    const steps = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('would run: '))
      .map((l) => l.slice('would run: '.length));
    expect(steps).toEqual([
      `env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${boot}/wattproof/wattproof-agent_0.1.0_${arch}.deb`,
      `install -o root -g wattproof -m 0640 ${boot}/wattproof/agent.yaml /etc/wattproof/agent.yaml`,
      `install -o root -g wattproof -m 0644 ${boot}/wattproof/release-key /etc/wattproof/release-key`,
      ...(sh('test', ['-f', '/var/lib/wattproof/gateway.key']).code === 0
        ? []
        : ['runuser -u wattproof -- wattproof-agent init --config /etc/wattproof/agent.yaml']),
      'runuser -u wattproof -- wattproof-agent enroll --hub https://hub.example.net --token <token>',
      `rm -f ${boot}/wattproof/enroll-token`,
      'systemctl enable --now wattproof-agent.service',
    ]);
  });

  it('reads the token from stdin with --token -, and keeps a token file it was given', () => {
    const boot = bootDir({
      'wattproof-agent_0.1.0_amd64.deb': '',
      'wattproof-agent_0.1.0_arm64.deb': '',
      'agent.yaml': 'x',
    });
    const r = sh(firstRun, ['--dry-run', '--hub', 'https://h', '--token', '-'], {
      env: env(boot),
      input: 'wpt_from_stdin\n',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('enroll --hub https://h --token <token>');
    expect(r.stdout).not.toContain('wpt_from_stdin');
    const tf = path.join(dir, 'token.txt');
    writeFileSync(tf, 'wpt_in_a_file\n');
    const r2 = sh(firstRun, ['--dry-run', '--hub', 'https://h', '--token-file', tf], { env: env(boot) });
    expect(r2.code).toBe(0);
    expect(r2.stdout).not.toContain('rm -f');
  });

  it('refuses with a message that says what to do: no hub, no token, a mistyped token, no package', () => {
    const empty = bootDir({});
    const noHub = sh(firstRun, ['--dry-run', '--token', 'wpt_x'], { env: env(empty) });
    expect(noHub.code).toBe(1);
    expect(noHub.stderr).toMatch(/no hub URL: pass --hub .* \(or put it in .*\/wattproof\/hub-url\)/);
    const noToken = sh(firstRun, ['--dry-run', '--hub', 'https://h'], { env: env(empty) });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(
      /no enrolment token: pass --token, --token-file, or put it in .*enroll-token/,
    );
    const typo = sh(firstRun, ['--dry-run', '--hub', 'https://h', '--token', 'wtp_x'], { env: env(empty) });
    expect(typo.stderr).toMatch(/starts with wpt_/);
    const noDeb = sh(firstRun, ['--dry-run', '--hub', 'https://h', '--token', 'wpt_x'], {
      env: { ...env(empty), PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    if (!has('wattproof-agent')) {
      expect(noDeb.code).toBe(1);
      expect(noDeb.stderr).toMatch(
        /no wattproof-agent package: pass --deb FILE or put wattproof-agent_<version>_\w+\.deb in/,
      );
    }
    const unknown = sh(firstRun, ['--frobnicate'], { env: env(empty) });
    expect(unknown.stderr).toMatch(/unknown argument --frobnicate/);
  });
});
