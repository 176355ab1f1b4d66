// Every command in README.md's shell code blocks is exercised: this table maps each one to how.
// A command the table does not know fails the test (add the command's test, then its row). The
// cheap ones (`--help`, `--version`) run here and their output is checked; the others name the
// test that runs them, and the row is checked against that test's text so a row cannot point at
// a test that does not do it.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startDemo } from './support/demo-process.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  scripts: Record<string, string>;
  bin: Record<string, string>;
};

/** How a README command is exercised. */
type Exercise =
  /** Run here (node + args from the repo root); stdout must match. */
  | { run: string[]; prints: RegExp }
  /** An npm script: package.json's script must contain this. */
  | { script: string; contains: string }
  /** Run by another test (or the script a test runs): that file must contain the marker. */
  | { test: string; contains: string };

const EXERCISED: Record<string, Exercise> = {
  // The two commands.
  'npm install && npm start': { test: 'test/demo-start.test.ts', contains: "'--fresh'" },
  'npm test': { script: 'test', contains: 'vitest run' },
  // The demo.
  'npm start -- --homes 50 --speed 60': {
    test: 'test/demo-start.test.ts',
    contains: "'--homes',",
  },
  'npm start -- --fresh': { test: 'test/demo-start.test.ts', contains: "[...args, '--fresh']" },
  'npm start -- --help': {
    run: ['dist/demo/start.js', '--help'],
    prints: /--homes <n>[\s\S]*--speed <x>[\s\S]*--fresh/,
  },
  'node dist/hub/cli.js verify .wattproof-demo/hub/ledger.db': {
    test: 'test/demo-start.test.ts',
    contains: "[hubCli, 'verify', path.join(data, 'hub', 'ledger.db')]",
  },
  // Install an agent on a gateway.
  'sudo apt-get install -y ./wattproof-agent_0.1.0_arm64.deb': {
    test: 'test/deploy-debootstrap.test.ts',
    contains: 'apt-get install',
  },
  'sudo wattproof-agent init': { test: 'test/agent-hub.test.ts', contains: "'init'" },
  'sudo wattproof-agent scan --serial /dev/ttyUSB0 --baud 9600 --units 1-10': {
    test: 'test/modbus-cli.test.ts',
    contains: "'--serial'",
  },
  'sudo wattproof-agent enroll --hub https://hub.example.net --token wpt_…': {
    test: 'test/agent-hub.test.ts',
    contains: "'enroll'",
  },
  'sudo systemctl enable --now wattproof-agent': {
    test: 'deploy/gateway/first-run.sh',
    contains: 'systemctl enable',
  },
  'sudo wattproof-agent status': { test: 'test/agent-cli.test.ts', contains: "'status'" },
  // Run a hub with Mosquitto.
  'sudo apt-get install -y mosquitto': { test: 'test/support/mosquitto.ts', contains: '/usr/sbin/mosquitto' },
  'wattproof-hub start --config deploy/mosquitto/hub.example.yaml': {
    test: 'test/deploy-hub.test.ts',
    contains: 'hub.example.yaml',
  },
  'wattproof-hub token create --site home-17 --config deploy/mosquitto/hub.example.yaml': {
    test: 'test/hub-cli.test.ts',
    contains: "['token', 'create', '--site'",
  },
  // The command lines.
  'wattproof-agent --help': {
    run: ['dist/agent/cli.js', '--help'],
    prints: /Usage: wattproof-agent[\s\S]*enroll/,
  },
  'wattproof-hub --help': { run: ['dist/hub/cli.js', '--help'], prints: /Usage: wattproof-hub[\s\S]*verify/ },
  'wattproof-sim --help': { run: ['dist/device-drivers/sim/cli.js', '--help'], prints: /--tcp/ },
  'wattproof-verify --help': {
    run: ['dist/protocol/verify-cli.js', '--help'],
    prints: /Usage: wattproof-verify/,
  },
  'wattproof-hub verify ledger.db --log-key "$LOG_KEY"': {
    test: 'test/hub-cli.test.ts',
    contains: "'--log-key'",
  },
  'wattproof-verify export-dir --log-key "$LOG_KEY"': {
    test: 'test/hub-ledger-verify.test.ts',
    contains: "'--log-key'",
  },
  // Simulated devices.
  'node dist/device-drivers/sim/cli.js --tcp 1502 --unit 1=sunspec-inverter --unit 2=sunspec-meter --unit 3=sunspec-battery --unit 4=sdm630 --speed 60':
    { test: 'test/modbus-cli.test.ts', contains: '4=sdm630' },
  'node dist/agent/cli.js scan --tcp 127.0.0.1:1502 --units 1-4': {
    test: 'test/modbus-cli.test.ts',
    contains: "'scan'",
  },
  'node dist/agent/cli.js read --tcp 127.0.0.1:1502 --unit 2': {
    test: 'test/modbus-cli.test.ts',
    contains: "'read'",
  },
};

/** The commands of README's sh/bash/console blocks: continuations joined, comments and `&` dropped. */
function readmeCommands(markdown: string): string[] {
  const out: string[] = [];
  for (const block of markdown.matchAll(/^```(?:sh|bash|shell|console)\n([\s\S]*?)^```/gm)) {
    const joined = (block[1] ?? '').replace(/\\\n\s*/g, '');
    for (const raw of joined.split('\n')) {
      const line = raw
        .replace(/^\$\s+/, '')
        .replace(/\s+#.*$/, '')
        .replace(/^#.*$/, '')
        .replace(/\s*&$/, '')
        .replace(/\s+/g, ' ')
        .trim();
      if (line) out.push(line);
    }
  }
  return out;
}

const commands = readmeCommands(readFileSync(path.join(root, 'README.md'), 'utf8'));

describe('README commands', () => {
  it('finds the commands (the extraction works)', () => {
    expect(commands).toContain('npm install && npm start');
    expect(commands.length).toBeGreaterThanOrEqual(10);
  });

  it('every README command has a row in the table, and every row is still in the README', () => {
    const unmapped = commands.filter((c) => !(c in EXERCISED));
    expect(unmapped, 'README commands nobody exercises: add a test and a row to EXERCISED').toEqual([]);
    const stale = Object.keys(EXERCISED).filter((c) => !commands.includes(c));
    expect(stale, 'rows for commands no longer in the README').toEqual([]);
  });

  it('every row that names a test points at a file that does it; npm scripts say what the README says', () => {
    for (const c of commands) {
      const e = EXERCISED[c];
      if (!e || 'run' in e) continue;
      if ('script' in e) {
        expect(pkg.scripts[e.script], c).toContain(e.contains);
        continue;
      }
      const file = path.join(root, e.test);
      expect(existsSync(file), `${c}: ${e.test} is missing`).toBe(true);
      expect(readFileSync(file, 'utf8'), `${c}: ${e.test} does not contain ${e.contains}`).toContain(
        e.contains,
      );
    }
  });

  it('npm install builds what npm start runs (prepare compiles demo/ into dist/demo and bundles the dashboard)', () => {
    expect(pkg.scripts.start).toBe('node dist/demo/start.js');
    // prepare = build: tsc, then the dashboard's browser bundle (served at /ui/).
    const prepare = pkg.scripts.prepare ?? '';
    const build = prepare.includes('npm run build') ? (pkg.scripts.build ?? '') : prepare;
    expect(build).toContain('tsconfig.build.json');
    expect(build).toContain('build:web');
    const tsconfig = JSON.parse(readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    expect(tsconfig.include).toContain('demo');
    expect(existsSync(path.join(root, 'dist/demo/start.js'))).toBe(true);
  });

  it('runs the --help commands and checks what they print', async () => {
    for (const c of commands) {
      const e = EXERCISED[c];
      if (!e || !('run' in e)) continue;
      const { stdout } = await run(process.execPath, e.run, { cwd: root });
      expect(stdout, c).toMatch(e.prints);
    }
  }, 30_000);

  // wattproof-sim and wattproof-verify have no --version yet (the README says which do).
  it('the agent, the hub and the demo print the package version with --version', async () => {
    const scripts = [pkg.bin['wattproof-agent'], pkg.bin['wattproof-hub'], 'dist/demo/start.js'] as string[];
    for (const s of scripts) {
      const { stdout } = await run(process.execPath, [s, '--version'], { cwd: root });
      expect(stdout.trim(), s).toBe(pkg.version);
    }
  }, 30_000);

  it('the demo refuses a bad option with a clear message and exit code 1', async () => {
    const err = await run(process.execPath, ['dist/demo/start.js', '--homes', '501'], { cwd: root }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toMatch(/--homes must be a whole number 1\.\.500/);
  });

  it('npm start: the dashboard answers at the printed URL, and the printed login works', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-readme-demo-'));
    const demo = startDemo([
      '--homes',
      '1',
      '--speed',
      '30',
      '--interval',
      '1',
      '--data',
      path.join(dir, 'd'),
    ]);
    try {
      const m = await demo.waitForLine(/^ {2}dashboard {4}(\S+\/ui\/) {2}login (\S+) \/ (\S+) /, 30_000);
      const [, url, user, password] = m as unknown as [string, string, string, string];
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(await page.text()).toMatch(/<html[\s\S]*Wattproof/i);
      const login = (body: unknown) =>
        fetch(new URL('api/login', url), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const wrong = await login({ user, password: `${password}x` });
      expect(wrong.status).toBe(401);
      const ok = await login({ user, password });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ user: 'operator', role: 'operator' });
      // The session cookie opens the operator's views.
      const cookie = (ok.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const session = await fetch(new URL('api/session', url), { headers: { cookie } });
      expect(session.status).toBe(200);
    } finally {
      if (demo.child.exitCode === null) {
        demo.child.kill('SIGINT');
        expect(await demo.exited, demo.stderr()).toBe(0);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
