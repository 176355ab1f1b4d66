// Shared pieces of the hub's tests: a hub on a temp dir with free ports, a gateway that signs
// chained meter proofs with a real key, a waiting MQTT receipt collector, and hub-signed gateway
// bindings appended straight to a ledger.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { type BrokerChoice, Hub, type HubOptions } from '../../hub/hub.js';
import type { HubKey } from '../../hub/keys.js';
import type { Ledger } from '../../hub/ledger/ledger.js';
import { b64url, gatewayIdOf, generateSecretKey, messageHashB64, publicKeyOf } from '../../protocol/index.js';
import {
  GATEWAY_BINDING_TYP,
  METER_PROOF_TYP,
  type MeterProof,
  type Receipt,
  signMessage,
} from '../../protocol/messages/index.js';

export const OPERATOR_TOKEN = 'test-operator-token-0123456789abcdef0123456789';
const T0 = Date.UTC(2026, 0, 1);

export async function startTestHub(
  overrides: Partial<HubOptions> & { broker?: BrokerChoice } = {},
): Promise<{ hub: Hub; dir: string; logFile: string }> {
  const dir = overrides.dataDir ?? mkdtempSync(path.join(tmpdir(), 'wattproof-hub-'));
  mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'hub.log');
  const log = pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true }));
  const hub = await Hub.start({
    dataDir: dir,
    checkpointEvery: 256,
    checkpointIntervalMs: 20,
    gapWaitMs: 300,
    maxPendingPerGateway: 100,
    http: { host: '127.0.0.1', port: 0 },
    operatorToken: OPERATOR_TOKEN,
    broker: { kind: 'embedded', host: '127.0.0.1', port: 0 },
    tokenTtlMs: 60_000,
    maxEnrolFailures: 10,
    enrolFailureWindowMs: 60_000,
    log,
    ...overrides,
  });
  return { hub, dir, logFile };
}

export interface EnrolAnswer {
  gatewayId: string;
  mqtt: { url: string; username: string; password: string; topicPrefix: string };
  hub: { id: string; publicKey: string; logOrigin: string; logVerifierKey: string };
  binding: { index: number; leafHash: string };
}

export async function createToken(httpUrl: string, site = 'site-1', ttlSeconds?: number): Promise<string> {
  const res = await fetch(`${httpUrl}/v1/enroll-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ site, ...(ttlSeconds ? { ttlSeconds } : {}) }),
  });
  if (res.status !== 201) throw new Error(`token create: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export async function postEnroll(httpUrl: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${httpUrl}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * Binds each gateway to `site` as enrolment does: one hub-signed gateway binding per gateway,
 * appended to the ledger at `at` (for tests that build the ledger without the enrolment API).
 */
export function bindGateways(
  ledger: Ledger,
  hubKey: HubKey,
  gateways: readonly { id: string; publicKey: Uint8Array }[],
  at: number,
  site = 'home',
): void {
  for (const g of gateways) {
    const jws = signMessage(
      GATEWAY_BINDING_TYP,
      hubKey.hubId,
      { gw: g.id, publicKey: b64url.encode(g.publicKey), site, at },
      hubKey.secretKey,
    );
    ledger.append([
      { jws, typ: GATEWAY_BINDING_TYP, kid: hubKey.hubId, gw: null, seq: null, receivedMs: at },
    ]);
  }
}

/** Waits until `check` returns a value other than undefined, or fails after `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A gateway with a real key that signs chained meter proofs. */
export class TestGateway {
  readonly secretKey = generateSecretKey();
  readonly publicKey = publicKeyOf(this.secretKey);
  readonly id = gatewayIdOf(this.publicKey);
  seq = 0;
  prev: string | null = null;
  client: mqtt.MqttClient | undefined;
  readonly receipts: Receipt[] = [];
  credentials: EnrolAnswer | undefined;

  async enrol(httpUrl: string, site = 'site-1'): Promise<EnrolAnswer> {
    const token = await createToken(httpUrl, site);
    const res = await postEnroll(httpUrl, { token, publicKey: b64url.encode(this.publicKey) });
    if (res.status !== 201) throw new Error(`enrol: ${res.status} ${JSON.stringify(res.body)}`);
    this.credentials = res.body as EnrolAnswer;
    return this.credentials;
  }

  /** A meter proof payload for interval `i` (defaults to the next seq/prev of the chain). */
  proofPayload(i = this.seq, seq = this.seq, prev = this.prev, importEnd = 1010 + i * 10): MeterProof {
    const start = T0 + i * 900_000;
    return {
      gw: this.id,
      seq,
      prev,
      meter: { id: 'main', serial: 'SN-1' },
      energy: 'electricity',
      interval: { start, end: start + 900_000 },
      importWh: { start: 1000 + i * 10, end: importEnd },
      exportWh: { start: 0, end: 0 },
      samples: 90,
      expectedSamples: 90,
      flags: [],
      signedAt: start + 901_000,
    };
  }

  sign(payload: MeterProof): string {
    return signMessage(METER_PROOF_TYP, this.id, payload, this.secretKey);
  }

  /** Signs the next proof of the chain and advances it. */
  nextProof(): string {
    const jws = this.sign(this.proofPayload());
    this.prev = messageHashB64(jws);
    this.seq++;
    return jws;
  }

  async connect(url?: string, as?: { username: string; password: string }): Promise<mqtt.MqttClient> {
    const creds = as ?? this.credentials?.mqtt;
    if (!creds) throw new Error('enrol first');
    const client = await mqtt.connectAsync(url ?? (this.credentials as EnrolAnswer).mqtt.url, {
      username: creds.username,
      password: creds.password,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      protocolVersion: 4,
    });
    client.on('message', (topic, payload) => {
      if (topic.endsWith('/receipt')) this.receipts.push(JSON.parse(payload.toString('utf8')) as Receipt);
    });
    await client.subscribeAsync(`wattproof/v1/gw/${this.id}/receipt`, { qos: 1 });
    this.client = client;
    return client;
  }

  async publishProof(jws: string, gw = this.id): Promise<void> {
    await this.client?.publishAsync(`wattproof/v1/gw/${gw}/proof`, jws, { qos: 1 });
  }

  /** Waits for a receipt for the message with this hash (and status, when given). */
  receiptFor(jws: string, status?: Receipt['status'], ms = 10_000): Promise<Receipt> {
    const hash = messageHashB64(jws);
    return waitFor(
      `receipt ${status ?? ''} for ${hash}`,
      () =>
        this.receipts.find((r) => r.messageHash === hash && (status === undefined || r.status === status)),
      ms,
    );
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }
}

/** The SUBACK code the broker granted for one filter (128 / 135 = refused), refusal or not. */
export async function subscribeCode(client: mqtt.MqttClient, filter: string): Promise<number | undefined> {
  try {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    return granted[0]?.qos;
  } catch (err) {
    const packet = (err as { packet?: { granted?: Array<number | { qos: number }>; reasonCode?: number } })
      .packet;
    const g = packet?.granted?.[0];
    return typeof g === 'number' ? g : (g?.qos ?? packet?.reasonCode);
  }
}

/** The built hub CLI; `npm test` builds first (run `npm run build` before running one file by hand). */
export const hubCli = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../dist/hub/cli.js');
export const verifyCliPath = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../../dist/protocol/verify-cli.js',
);

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a built CLI to completion. */
export function runNode(script: string, args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `wattproof-hub start --config FILE` and waits for the line that names its URLs. */
export async function spawnHub(
  config: string,
): Promise<{ child: ChildProcess; httpUrl: string; brokerUrl: string; stderr: () => string }> {
  const child = spawn(process.execPath, [hubCli, 'start', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  child.stdout?.resume();
  // The start line is the event; the bound is generous because loading the CLI alone took 8 s on
  // a loaded 2-core machine. A hub that exits fails the wait at once, with its output.
  const m = await waitFor(
    'the hub to start',
    () => {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`the hub exited (${child.exitCode ?? child.signalCode}) before starting:\n${stderr}`);
      return /http (http:\/\/\S+), broker (mqtt:\/\/\S+)/.exec(stderr) ?? undefined;
    },
    120_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${stderr}`);
  });
  return { child, httpUrl: m[1] as string, brokerUrl: m[2] as string, stderr: () => stderr };
}
