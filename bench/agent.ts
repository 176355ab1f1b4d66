// Agent footprint: resident memory and CPU of the built agent (`wattproof-agent run`, from dist/)
// polling three simulated devices every second, signing 1-minute intervals and sending them to a
// real hub, against a bare Node process that imports the same libraries, measured side by side.
//   npm run bench -- agent          (builds first; or `npm run build` then node --import tsx bench/agent.ts)
//   npm run bench -- agent --quick
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createIdentity } from '../agent/identity.js';
import { Simulator } from '../device-drivers/sim/simulator.js';
import { b64url } from '../protocol/index.js';
import { startHubProcess } from './lib/hub-child.js';
import { benchMode, fmt, median, printHeader, printNote, printTable, type ResultRow } from './lib/report.js';

const mode = benchMode();
printHeader(
  'Agent footprint: memory and CPU while polling and signing',
  mode,
  'node --import tsx bench/agent.ts',
);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const agentCli = path.join(root, 'dist/agent/cli.js');
const WARMUP_S = mode.quick ? 2 : 15;
const MEASURE_S = mode.quick ? 3 : 90;

/** The npm packages the agent's code imports (agent/, device-drivers/, protocol/). */
const AGENT_LIBRARIES = [
  'commander',
  'zod',
  'yaml',
  'pino',
  'mqtt',
  'better-sqlite3',
  'modbus-serial',
  'serialport',
  '@noble/ed25519',
  '@noble/hashes/sha2.js',
  '@scure/base',
  'qrcode',
  'node-schedule',
];

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system) and resident set of a process, from /proc. */
function sampleProc(pid: number): { cpuS: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  return { cpuS, rssMiB: rssKb / 1024 };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

if (!existsSync(agentCli)) {
  process.stdout.write(
    `not measured: ${agentCli} is missing; run \`npm run build\` first (npm run bench does)\n`,
  );
  process.exit(1);
}

const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-bench-agent-'));
const operatorToken = b64url.encode(crypto.getRandomValues(new Uint8Array(32)));
const sim = await Simulator.start({
  units: [
    { unit: 1, kind: 'sunspec-meter' },
    { unit: 2, kind: 'sunspec-inverter' },
    { unit: 3, kind: 'sunspec-meter' },
  ],
  tcp: { host: '127.0.0.1', port: 0 },
});
const hub = await startHubProcess({
  dataDir: path.join(dir, 'hub'),
  broker: { kind: 'embedded', host: '127.0.0.1', port: 0 },
  operatorToken,
});
const children: ChildProcess[] = [];
try {
  // Enrol the gateway's key with the hub, as `wattproof-agent enroll` will.
  const stateDir = path.join(dir, 'state');
  const identity = createIdentity(stateDir);
  const auth = { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' };
  const t = await fetch(`${hub.httpUrl}/v1/enroll-tokens`, {
    method: 'POST',
    headers: auth,
    body: '{"site":"bench"}',
  });
  const { token } = (await t.json()) as { token: string };
  const e = await fetch(`${hub.httpUrl}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, publicKey: b64url.encode(identity.publicKey) }),
  });
  if (e.status !== 201) throw new Error(`enrolment refused: ${e.status} ${await e.text()}`);
  const creds = ((await e.json()) as { mqtt: { url: string; username: string; password: string } }).mqtt;

  const syncFile = path.join(dir, 'clock-synchronised');
  writeFileSync(syncFile, '');
  const configFile = path.join(dir, 'agent.yaml');
  const device = (name: string, unit: number, role: string) =>
    `  - {name: ${name}, transport: {type: tcp, host: 127.0.0.1, port: ${sim.tcpPort}, timeoutMs: 1000}, unit: ${unit}, kind: sunspec, role: ${role}, pollSeconds: 1}`;
  writeFileSync(
    configFile,
    [
      `gateway: {stateDir: ${stateDir}, settlementMinutes: 1}`,
      // The embedded broker (Aedes) speaks MQTT 3.1.1.
      `hub: {url: '${creds.url}', protocolVersion: 4, username: ${creds.username}, password: '${creds.password}'}`,
      'devices:',
      device('grid', 1, 'grid'),
      device('pv', 2, 'pv'),
      device('heatpump', 3, 'heatpump'),
      `clock: {syncCheck: file, syncFile: ${syncFile}}`,
      'logging: {level: warn, format: json}',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  const agent = spawn(process.execPath, [agentCli, 'run', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(agent);
  let agentErr = '';
  agent.stderr?.on('data', (c: Buffer) => {
    agentErr = (agentErr + c.toString('utf8')).slice(-4000);
  });
  const bareCode = `${AGENT_LIBRARIES.map((l, i) => `import * as m${i} from '${l}';`).join('\n')}
globalThis.keep = [${AGENT_LIBRARIES.map((_, i) => `m${i}`).join(', ')}];
setInterval(() => {}, 1000);`;
  const bare = spawn(process.execPath, ['--input-type=module', '-e', bareCode], {
    cwd: root,
    stdio: 'ignore',
  });
  children.push(bare);

  const samples: Array<{
    t: number;
    agent: { cpuS: number; rssMiB: number };
    bare: { cpuS: number; rssMiB: number };
  }> = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(WARMUP_S * 1000);
  for (let s = 0; s <= MEASURE_S; s++) {
    if (agent.exitCode !== null) throw new Error(`the agent exited (${agent.exitCode}):\n${agentErr}`);
    samples.push({
      t: performance.now(),
      agent: sampleProc(agent.pid as number),
      bare: sampleProc(bare.pid as number),
    });
    await sleep(1000);
  }
  const first = samples[0] as (typeof samples)[number];
  const last = samples[samples.length - 1] as (typeof samples)[number];
  const wallS = (last.t - first.t) / 1000;
  const cpuPct = (k: 'agent' | 'bare') => ((last[k].cpuS - first[k].cpuS) / wallS) * 100;
  const stats = (await (await fetch(`${hub.httpUrl}/v1/stats`)).json()) as { size: number };

  const agentRss = median(samples.map((x) => x.agent.rssMiB));
  const bareRss = median(samples.map((x) => x.bare.rssMiB));
  const rows: ResultRow[] = [
    {
      what: 'agent resident memory (RSS), 3 devices polled every second',
      value: agentRss,
      unit: 'MiB',
      runs: samples.length,
      reference: 'bare node importing the same libraries',
      referenceValue: bareRss,
      note: `${fmt(agentRss - bareRss)} MiB above the bare process (target: at most 30); peak ${fmt(Math.max(...samples.map((x) => x.agent.rssMiB)))} MiB`,
    },
    {
      what: 'agent CPU, average over the window',
      value: cpuPct('agent'),
      unit: '% of one core',
      runs: 1,
      reference: 'bare node importing the same libraries',
      referenceValue: cpuPct('bare'),
      ratio: Number.NaN,
      note: `target: under 2 %; window ${fmt(wallS)} s after ${WARMUP_S} s warm-up`,
    },
  ];
  printTable(rows);
  printNote(
    `The hub's ledger held ${stats.size} entries at the end (1 binding + the proofs and events of 1-minute intervals). ` +
      `Targets (issue 13): +30 MiB ${agentRss - bareRss <= 30 ? 'met' : 'not met'}, 2 % CPU ${cpuPct('agent') < 2 ? 'met' : 'not met'}.`,
  );
} finally {
  await Promise.all(children.map(stopChild));
  await hub.stop().catch(() => undefined);
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
}
