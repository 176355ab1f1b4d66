// What the fault scenarios share: a real hub (in this process, ledger on a temp dir) on a real
import { type ChildProcess, spawn } from 'node:child_process';
// Mosquitto, and real agent processes enrolled with it. Built on the project's test helpers.
import path from 'node:path';
import type { Hub } from '../../hub/hub.js';
import { b64url } from '../../protocol/index.js';
import { type Gateway, setUpGateway } from '../support/agent-harness.js';
import { createToken, postEnroll, startTestHub } from '../support/hub-fixtures.js';
import { type RunningMosquitto, startMosquitto } from '../support/mosquitto.js';
import { type GatewayTruth, readOutbox } from './checker.js';

export const HUB_PASSWORD = 'hub-password-for-fault-tests-0123456789';

/**
 * A hub on an open Mosquitto (anonymous clients may connect; the hub's own signature checks are
 * what keep gateways apart, as on any open broker). The agents connect without credentials.
 */
export async function hubOnMosquitto(
  opts: { broker?: RunningMosquitto } = {},
): Promise<{ hub: Hub; dir: string; broker: RunningMosquitto; logFile: string }> {
  const broker = opts.broker ?? (await startMosquitto({ extraConfig: ['max_queued_messages 100000'] }));
  const { hub, dir, logFile } = await startTestHub({
    dataDir: path.join(broker.dir, 'hub'),
    gapWaitMs: 5_000,
    broker: { kind: 'external', url: broker.url, username: 'hub', password: HUB_PASSWORD },
  });
  return { hub, dir, broker, logFile };
}

/** Enrols a gateway's public key with the hub over HTTP (what `wattproof-agent enroll` does). */
export async function enrolKey(httpUrl: string, publicKey: Uint8Array): Promise<{ logVerifierKey: string }> {
  const token = await createToken(httpUrl, 'site-faults');
  const res = await postEnroll(httpUrl, { token, publicKey: b64url.encode(publicKey) });
  if (res.status !== 201) throw new Error(`enrol: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { hub: { logVerifierKey: string } }).hub;
}

export async function enrolledAgent(
  hub: Hub,
  opts: Parameters<typeof setUpGateway>[0],
): Promise<{ gw: Gateway; truth: GatewayTruth; logKey: string }> {
  const gw = setUpGateway(opts);
  const { logVerifierKey } = await enrolKey(hub.httpUrl, gw.identity.publicKey);
  const truth: GatewayTruth = { gw: gw.identity.gatewayId, headSeq: -1, headHash: null, seen: new Map() };
  return { gw, truth, logKey: logVerifierKey };
}

export function outboxFile(gw: Gateway): string {
  return path.join(gw.stateDir, 'outbox.sqlite');
}

/** Adds what is in the gateway's outbox now to what the scenario has seen of it. */
export function observe(gw: Gateway, truth: GatewayTruth): void {
  try {
    readOutbox(outboxFile(gw), truth);
  } catch (err) {
    // The outbox does not exist before the first start.
    if (!/unable to open|does not exist|no such/i.test(String(err))) throw err;
  }
}

/** Counts distinct "meter proof signed" seqs in an agent's JSON log output. */
export function signedSeqs(output: string, into = new Set<number>()): Set<number> {
  for (const line of output.split('\n')) {
    if (!line.includes('meter proof signed')) continue;
    try {
      const o = JSON.parse(line) as { seq?: unknown };
      if (typeof o.seq === 'number') into.add(o.seq);
    } catch {
      // A line cut by SIGKILL.
    }
  }
  return into;
}

/** Spawns a process with its output collected (the no-namespace twin of NetNs.spawn). */
export function spawnPlain(
  cmd: string,
  args: string[],
): { child: ChildProcess; output: () => string; exited: Promise<unknown> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, output: () => out, exited };
}
