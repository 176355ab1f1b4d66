// A hub with the dashboard for the dashboard's tests and bench: the real hub (Hub.start: ingest,
// ledger, checkpoints, receipts, API) on a real Mosquitto, and the dashboard composed beside it
// from exported parts on its own Fastify app with its own MQTT subscription — exactly the parts
// hub.ts will wire into its API app (see docs/dashboard.md). Also a simulated gateway that speaks
// MQTT like the agent: a signed birth status, a signed last will, telemetry and chained proofs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance, type RawServerDefault } from 'fastify';
import mqtt from 'mqtt';
import pino, { type Logger } from 'pino';
import { Engine } from '../../hub/engine/engine.js';
import type { Hub } from '../../hub/hub.js';
import { EquivocationStore } from '../../hub/ingest/equivocations.js';
import { Bindings } from '../../hub/ledger/bindings.js';
import { buildDashboardClient } from '../../hub/web/build-client.js';
import { dashboardConfigSchema } from '../../hub/web/config.js';
import { createDashboard, type Dashboard } from '../../hub/web/dashboard.js';
import { DASHBOARD_LOG_REDACT, registerDashboard } from '../../hub/web/plugin.js';
import { hashPassword } from '../../hub/web/users.js';
import {
  b64url,
  gatewayIdOf,
  generateSecretKey,
  messageHashB64,
  publicKeyOf,
  sha256,
} from '../../protocol/index.js';
import {
  GATEWAY_STATUS_TYP,
  METER_PROOF_TYP,
  type MeterProof,
  signMessage,
  TELEMETRY_TYP,
} from '../../protocol/messages/index.js';
import { createToken, type EnrolAnswer, postEnroll, startTestHub, waitFor } from './hub-fixtures.js';
import { type RunningMosquitto, startMosquitto } from './mosquitto.js';

export const PASSWORDS = {
  olga: 'olga-operator-password-1',
  vera: 'vera-validator-password-1',
  rita: 'rita-readonly-password-1',
};

export interface DashboardHub {
  hub: Hub;
  broker: RunningMosquitto;
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;
  dashboard: Dashboard;
  url: string;
  dir: string;
  logFile: string;
  validator: { id: string; secretKey: Uint8Array; keyFile: string };
  observerClient: mqtt.MqttClient;
  routes: RouteRecord[];
  /** The hub's contracts engine (with `engine: true`): activations and settlements, no reviewer. */
  engine: Engine | undefined;
  /** The engine's clock, set by the test (UTC ms). */
  engineClock: { now: number };
  stop(): Promise<void>;
}

export interface RouteRecord {
  method: string;
  url: string;
  access: unknown;
}

/** Starts Mosquitto, the hub on it, and the dashboard (client bundle built fresh into a temp dir). */
export async function startDashboardHub(
  opts: {
    alerts?: Record<string, number>;
    settlementPeriodMs?: number;
    /** Run the contracts engine on the hub's ledger; its decisions come from the page's validator. */
    engine?: boolean;
    engineStartMs?: number;
    /** Start the hub as a deployed one is, with its own engine and the engine's API routes. */
    hubEngine?: boolean;
  } = {},
): Promise<DashboardHub> {
  const broker = await startMosquitto({ extraConfig: ['set_tcp_nodelay true'] });
  const { hub, dir } = await startTestHub({
    broker: { kind: 'external', url: broker.url, username: 'hub', password: 'hub-password-0123456789' },
    checkpointIntervalMs: 50,
    ...(opts.hubEngine ? { engine: { currency: 'EUR', settlementGraceMs: 60_000 } } : {}),
  });
  const publicDir = path.join(dir, 'public');
  await buildDashboardClient(publicDir, { minify: false });

  const valSecret = generateSecretKey();
  const valPub = publicKeyOf(valSecret);
  const keyFile = path.join(dir, 'validator-key.json');
  writeFileSync(
    keyFile,
    JSON.stringify({ format: 'wattproof-validator-key/1', secretKey: b64url.encode(valSecret) }),
    { mode: 0o600 },
  );
  // N = 2^14 keeps three logins fast in tests; the default is 2^15.
  const users = [
    { name: 'olga', role: 'operator', passwordHash: await hashPassword(PASSWORDS.olga, 2 ** 14) },
    { name: 'vera', role: 'validator', passwordHash: await hashPassword(PASSWORDS.vera, 2 ** 14) },
    { name: 'rita', role: 'read-only', passwordHash: await hashPassword(PASSWORDS.rita, 2 ** 14) },
  ];
  const config = dashboardConfigSchema.parse({
    users,
    validators: [{ publicKey: b64url.encode(valPub) }],
    alerts: { evaluateEverySeconds: 0.2, ...(opts.alerts ?? {}) },
  });

  const logFile = path.join(dir, 'dashboard.log');
  const log = pino(
    { level: 'info', redact: DASHBOARD_LOG_REDACT },
    pino.destination({ dest: logFile, sync: true }),
  );
  const bindings = new Bindings(hub.db);
  const equivocations = new EquivocationStore(hub.db);
  const origin = hub.ledger.origin ?? '';
  const dashboard = createDashboard({
    config,
    hub: {
      id: hub.key.hubId,
      publicKey: hub.key.publicKey,
      logOrigin: origin,
      logVerifierKey: hub.ledger.verifierKey() ?? '',
    },
    ledger: hub.ledger,
    bindings: {
      // The hub's own Bindings instance caches; a second one over the same table sees new rows.
      get: (gw) => bindings.get(gw),
      all: () => bindings.all(),
    },
    equivocations,
    stats: () => ({ ingest: hub.stats.toJSON() }),
    appendEntry: (jws, typ, kid) => {
      const [e] = hub.ledger.append([{ jws, typ, kid, gw: null, seq: null, receivedMs: Date.now() }]);
      hub.checkpointer.afterCommit();
      if (!e) throw new Error('append returned nothing');
      return { index: e.index };
    },
    ...(opts.settlementPeriodMs ? { settlementPeriodMs: opts.settlementPeriodMs } : {}),
    log,
  });
  const app = Fastify({ loggerInstance: log.child({ part: 'http' }), bodyLimit: 64 * 1024 });
  // Fastify's route table, as registered (the authorisation test walks it).
  const routes: RouteRecord[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods)
      routes.push({
        method: String(m),
        url: r.url,
        access: (r.config as { access?: unknown } | undefined)?.access,
      });
  });
  await registerDashboard(app, dashboard, { publicDir });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });

  const observerClient = await mqtt.connectAsync(broker.url, {
    username: 'hub',
    password: 'hub-password-0123456789',
    clientId: `dashboard-${hub.key.hubId}`,
    protocolVersion: 4,
    reconnectPeriod: 500,
  });
  observerClient.on('message', (topic, payload) => dashboard.observer.observe(topic, payload));
  await observerClient.subscribeAsync(
    ['wattproof/v1/gw/+/status', 'wattproof/v1/gw/+/telemetry', 'wattproof/v1/gw/+/proof'],
    { qos: 1 },
  );
  dashboard.start();

  const engineClock = { now: opts.engineStartMs ?? Date.now() };
  const engine = opts.engine
    ? new Engine({
        ledger: hub.ledger,
        hubKey: hub.key,
        config: {
          currency: 'EUR',
          settlementGraceMs: 0,
          validatorKids: dashboard.validators.map((v) => v.id),
          tickMs: 100,
        },
        clock: () => engineClock.now,
        // Contracts go to their gateways on the hub's broker; the simulated gateways do not watch them.
        publish: (topic, payload, o) => void observerClient.publish(topic, payload, o),
        log: log.child({ part: 'engine' }),
        afterAppend: () => hub.checkpointer.afterCommit(),
      })
    : undefined;
  engine?.start();

  return {
    hub,
    broker,
    app,
    dashboard,
    url,
    dir,
    logFile,
    validator: { id: `val-`, secretKey: valSecret, keyFile },
    observerClient,
    routes,
    engine,
    engineClock,
    async stop() {
      engine?.stop();
      dashboard.stop();
      await observerClient.endAsync(true);
      await app.close();
      await hub.stop();
      await broker.stop();
    },
  };
}

const Q = 900_000;
export const SIM_T0 = Date.UTC(2026, 0, 5);

/** A simulated gateway: MQTT like the agent (birth, last will, telemetry, chained proofs). */
export class SimGateway {
  readonly secretKey = generateSecretKey();
  readonly publicKey = publicKeyOf(this.secretKey);
  readonly id = gatewayIdOf(this.publicKey);
  seq = 0;
  prev: string | null = null;
  client: mqtt.MqttClient | undefined;
  enrolled: EnrolAnswer | undefined;
  importWh = 10_000;
  exportWh = 50_000;

  async enrol(httpUrl: string, site: string): Promise<EnrolAnswer> {
    const token = await createToken(httpUrl, site);
    const res = await postEnroll(httpUrl, { token, publicKey: b64url.encode(this.publicKey) });
    if (res.status !== 201) throw new Error(`enrol: ${res.status} ${JSON.stringify(res.body)}`);
    this.enrolled = res.body as EnrolAnswer;
    return this.enrolled;
  }

  status(state: 'online' | 'offline', at: number, clockSynchronised = true): string {
    return signMessage(
      GATEWAY_STATUS_TYP,
      this.id,
      {
        gw: this.id,
        state,
        version: '0.1.0',
        configHash: b64url.encode(sha256('config')),
        clockSynchronised,
        at,
      },
      this.secretKey,
    );
  }

  /** Connects with a signed last will, then publishes the signed birth (retained), as the agent does. */
  async connect(brokerUrl: string, opts: { clockSynchronised?: boolean } = {}): Promise<void> {
    const willAt = Date.now();
    this.client = await mqtt.connectAsync(brokerUrl, {
      username: this.id,
      password: this.enrolled?.mqtt.password ?? 'x',
      clientId: this.id,
      protocolVersion: 4,
      reconnectPeriod: 0,
      will: {
        topic: `wattproof/v1/gw/${this.id}/status`,
        payload: Buffer.from(this.status('offline', willAt)),
        qos: 1,
        retain: true,
      },
    });
    await this.client.publishAsync(
      `wattproof/v1/gw/${this.id}/status`,
      this.status('online', willAt + 1, opts.clockSynchronised ?? true),
      { qos: 1, retain: true },
    );
  }

  async telemetry(samples: { device: string; point: string; value: number; t?: number }[]): Promise<void> {
    const now = Date.now();
    const batch = {
      gw: this.id,
      samples: samples.map((s) => ({ t: s.t ?? now, device: s.device, point: s.point, value: s.value })),
      sentAt: now,
    };
    await this.client?.publishAsync(
      `wattproof/v1/gw/${this.id}/telemetry`,
      signMessage(TELEMETRY_TYP, this.id, batch, this.secretKey),
      { qos: 0 },
    );
  }

  /** Signs and publishes the next proof for interval `i` after SIM_T0. */
  async proof(i: number, d: { importWh?: number; exportWh?: number; flags?: MeterProof['flags'] } = {}) {
    const start = SIM_T0 + i * Q;
    const imp = { start: this.importWh, end: this.importWh + (d.importWh ?? 0) };
    const exp = { start: this.exportWh, end: this.exportWh + (d.exportWh ?? 0) };
    this.importWh = imp.end;
    this.exportWh = exp.end;
    const flags = d.flags ?? [];
    const payload: MeterProof = {
      gw: this.id,
      seq: this.seq,
      prev: this.prev,
      meter: { id: 'grid-meter', serial: `SN-${this.id.slice(3, 9)}` },
      energy: 'electricity',
      interval: { start, end: start + Q },
      importWh: imp,
      exportWh: exp,
      samples: flags.includes('device-error') ? 80 : 90,
      expectedSamples: 90,
      flags,
      signedAt: start + Q + 1000,
    };
    const jws = signMessage(METER_PROOF_TYP, this.id, payload, this.secretKey);
    this.prev = messageHashB64(jws);
    this.seq++;
    await this.client?.publishAsync(`wattproof/v1/gw/${this.id}/proof`, jws, { qos: 1 });
    return jws;
  }

  /** Drops the TCP connection without DISCONNECT, so the broker publishes the last will. */
  kill(): void {
    this.client?.stream.destroy();
    this.client?.end(true);
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }
}

export function tempArtifacts(): string {
  const dir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../test-artifacts');
  return dir;
}

export { waitFor };
export const tmp = () => mkdtempSync(path.join(tmpdir(), 'wattproof-dash-'));
