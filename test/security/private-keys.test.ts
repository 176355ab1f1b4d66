// Private keys stay private: the agent's and the hub's key files (and the agent's MQTT
// credentials) are mode 0600, and no log holds key material. The logs scanned are those this
// file produces — a hub, the real agent `enroll`, `run` and `status` against it — and every log
// left in the temp dirs of other test runs beside a key file (hub.log, agent.log of the fault
// scenarios, Mosquitto logs), each checked against every secret key found there: base64url,
// base64 and hex of the 32-byte secret, and the MQTT password.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIdentity } from '../../agent/identity.js';
import type { Hub } from '../../hub/hub.js';
import { loadHubKey } from '../../hub/keys.js';
import { b64url } from '../../protocol/index.js';
import { hubOnMosquitto } from '../faults/setup.js';
import { runAgentCli, waitFor } from '../support/agent-cli.js';
import { setUpGateway } from '../support/agent-harness.js';
import { type SimHome, startSimHome } from '../support/agent-sim-home.js';
import { createToken } from '../support/hub-fixtures.js';
import type { RunningMosquitto } from '../support/mosquitto.js';

let hub: Hub;
let broker: RunningMosquitto;
let hubDir: string;
let hubLog: string;
let sim: SimHome;
const SCALE = 30;
const origin = Date.now();

beforeAll(async () => {
  ({ hub, broker, dir: hubDir, logFile: hubLog } = await hubOnMosquitto());
  sim = await startSimHome({ scale: SCALE, origin });
}, 60_000);
afterAll(async () => {
  await sim?.close();
  await hub?.stop();
  await broker?.stop();
});

const mode = (f: string) => statSync(f).mode & 0o777;

/** The forms a 32-byte secret could take in a log line. */
function forms(secret: Uint8Array): string[] {
  const b = Buffer.from(secret);
  return [
    b64url.encode(secret),
    b.toString('base64'),
    b.toString('hex'),
    b.toString('hex').toUpperCase(),
  ].map((s) => s.replace(/=+$/, ''));
}

/** wattproof-* dirs under the temp dir (two levels), with their logs and key files. */
function walk(dir: string, depth: number, out: string[]): string[] {
  if (depth < 0) return out;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if (depth === 3 && !n.startsWith('wattproof-')) continue;
      walk(p, depth - 1, out);
    } else out.push(p);
  }
  return out;
}

describe('private keys', () => {
  it('the real agent enrols and runs; key and credential files are 0600; its logs and the hub log hold no key', async () => {
    const gw = setUpGateway({ brokerUrl: broker.url, simPort: sim.port, scale: SCALE, origin });
    const token = await createToken(hub.httpUrl, 'site-keys');
    const enrol = await runAgentCli(
      ['enroll', '--hub', hub.httpUrl, '--token', token, '--config', gw.configFile],
      {
        timeoutMs: 60_000,
      },
    );
    expect(enrol.code, enrol.stderr).toBe(0);
    const credsFile = path.join(gw.stateDir, 'mqtt-credentials.json');
    const creds = JSON.parse(readFileSync(credsFile, 'utf8')) as { password: string };
    const run = gw.start();
    await waitFor(
      () => hub.ledger.gatewayHead(gw.identity.gatewayId) !== undefined,
      'a proof in the ledger',
      60_000,
    );
    run.child.kill('SIGTERM');
    await run.exited;
    const status = await runAgentCli(['status', '--config', gw.configFile], { timeoutMs: 30_000 });
    const agentLog = [enrol.stdout, enrol.stderr, run.output(), status.stdout, status.stderr].join('\n');
    writeFileSync(path.join(gw.dir, 'agent.log'), agentLog);

    expect(mode(path.join(gw.stateDir, 'gateway.key'))).toBe(0o600);
    expect(mode(credsFile)).toBe(0o600);
    expect(mode(path.join(hubDir, 'hub.key'))).toBe(0o600);

    const secrets = [
      ...forms(loadIdentity(gw.stateDir).secretKey),
      ...forms(loadHubKey(path.join(hubDir, 'hub.key')).secretKey),
      creds.password,
    ];
    const logs = agentLog + readFileSync(hubLog, 'utf8') + broker.log();
    for (const s of secrets) expect(logs.includes(s), `a secret (${s.slice(0, 4)}…) is in a log`).toBe(false);
  }, 120_000);

  it('no log left by any test run beside a key holds that key', () => {
    // This project's test folders of the last hours (a long-lived machine's /tmp holds thousands).
    const since = Date.now() - 6 * 3_600_000;
    const files: string[] = [];
    for (const n of readdirSync(tmpdir())) {
      if (!n.startsWith('wattproof')) continue;
      const d = path.join(tmpdir(), n);
      try {
        if (statSync(d).mtimeMs < since) continue;
      } catch {
        continue;
      }
      walk(d, 2, files);
    }
    const keys: string[] = [];
    for (const f of files) {
      const base = path.basename(f);
      try {
        if (base === 'gateway.key') keys.push(...forms(loadIdentity(path.dirname(f)).secretKey));
        if (base === 'hub.key') keys.push(...forms(loadHubKey(f).secretKey));
      } catch {
        // A key file being written by a test running now, or one a test broke on purpose.
      }
    }
    const logs = files.filter((f) => /\.log$|stdout|stderr/.test(path.basename(f)));
    expect(keys.length).toBeGreaterThan(0);
    let scanned = 0;
    for (const f of logs) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      scanned++;
      for (const k of keys)
        expect(text.includes(k), `${f} holds a secret key (${k.slice(0, 4)}…)`).toBe(false);
    }
    console.log(`[security] scanned ${scanned} logs for ${keys.length / 4} secret keys`);
    expect(scanned).toBeGreaterThan(0);
  }, 120_000);
});
