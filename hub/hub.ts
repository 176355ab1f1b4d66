// The composition root: opens the ledger and the log key, starts (or connects to) the broker,
// wires ingest, receipts, checkpoints and enrolment, and serves the HTTP API. Each part gets its
// dependencies here and nowhere else; stop() shuts them down in reverse order.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { noteVerifierKey } from '../protocol/index.js';
import { HUB_STATUS_TYP, signMessage } from '../protocol/messages/index.js';
import { type Api, buildApi } from './api/server.js';
import { HUB_USERNAME } from './broker/acl.js';
import { MqttCredentials } from './broker/credentials.js';
import { type EmbeddedBroker, startEmbeddedBroker } from './broker/embedded.js';
import { MosquittoFiles } from './broker/mosquitto-files.js';
import { type HubConfig, readSecretFile } from './config.js';
import { Ed25519Verifier } from './crypto/fast-verify.js';
import { createMessageVerifier, type MessageVerifier } from './crypto/verify-pool.js';
import { registerEngineApi } from './engine/api.js';
import { gatewayBirthOf } from './engine/contract-delivery.js';
import { Engine } from './engine/engine.js';
import { SimpleReviewer } from './engine/reviewer.js';
import { KeyRulings } from './engine/rulings.js';
import { loadOrCreateValidatorKey, VALIDATOR_KEY_FILE } from './engine/validator-key.js';
import { setUpValidator } from './engine/validator-setup.js';
import { Enrolment } from './enrolment/enrol.js';
import { FailureLimiter } from './enrolment/failure-limiter.js';
import { EnrollTokens } from './enrolment/tokens.js';
import { EquivocationStore } from './ingest/equivocations.js';
import { INGEST_SUBSCRIPTIONS, Ingest } from './ingest/ingest.js';
import { ReceiptQueue } from './ingest/receipts.js';
import { IngestStats } from './ingest/stats.js';
import { type HubKey, loadOrCreateHubKey } from './keys.js';
import { Bindings } from './ledger/bindings.js';
import { Checkpointer } from './ledger/checkpointer.js';
import { type Entry, Ledger, type StoredCheckpoint } from './ledger/ledger.js';
import { type MarketRules, marketRules } from './markets/rules.js';
import { packageVersion } from './version.js';
import type { DashboardConfig } from './web/config.js';
import { createDashboard, type Dashboard } from './web/dashboard.js';
import { registerDashboard } from './web/plugin.js';

export const LEDGER_FILE = 'ledger.db';
export const KEY_FILE = 'hub.key';
export { VALIDATOR_KEY_FILE } from './engine/validator-key.js';

/** The engine that runs contracts, validator reviews and markets on the live ledger. */
export interface EngineOptions {
  currency: string;
  settlementGraceMs: number;
  /** The validator's policy file; absent: the simple rule sets. */
  validatorPolicyFile?: string;
  /** The grid model file, for congestion decisions (engine.gridModelFile). */
  gridModelFile?: string;
  /** Congestion interval and lead time, ms (default 15 min and 1 h). */
  congestionPeriodMs?: number;
  congestionLeadMs?: number;
  market?: MarketRules;
  /** The engine's clock (the demo runs accelerated time); default Date.now. */
  clock?: () => number;
  tickMs?: number;
}

export type BrokerChoice =
  | { kind: 'embedded'; host: string; port: number }
  | {
      kind: 'external';
      url: string;
      username: string;
      password: string;
      caFile?: string;
      mosquitto?: { passwordFile: string; aclFile: string; pidFile?: string };
    };

export interface HubOptions {
  dataDir: string;
  origin?: string;
  checkpointEvery: number;
  checkpointIntervalMs: number;
  gapWaitMs: number;
  maxPendingPerGateway: number;
  /** Worker threads that verify messages (0: on the main thread). Default 0. */
  verifyWorkers?: number;
  http: { host: string; port: number };
  operatorToken: string;
  broker: BrokerChoice;
  /** What gateways are told to connect to; default the broker's URL. */
  publicBrokerUrl?: string;
  tokenTtlMs: number;
  maxEnrolFailures: number;
  enrolFailureWindowMs: number;
  /** The operator's and validator's web dashboard; none when absent. */
  dashboard?: DashboardConfig;
  /** Bearer token /metrics asks for; open when absent. */
  metricsToken?: string;
  /** Contracts, validator and markets; absent: the hub only ingests (tests compose their own). */
  engine?: EngineOptions;
  log: Logger;
}

/**
 * Verify threads for `ingest.verifyWorkers: auto`: one fewer than the cores, at most 4. Signature
 * checks are most of a proof's cost; the main thread keeps the ledger, MQTT and HTTP.
 */
export function autoVerifyWorkers(cores = availableParallelism()): number {
  return Math.max(0, Math.min(4, cores - 1));
}

export function hubOptionsFromConfig(c: HubConfig, log: Logger): HubOptions {
  const ext = c.broker.external;
  const broker: BrokerChoice = ext
    ? {
        kind: 'external',
        url: ext.url,
        username: ext.username,
        password: ext.password ?? readSecretFile(ext.passwordFile as string, 'broker.external.passwordFile'),
        ...(ext.caFile ? { caFile: ext.caFile } : {}),
        mosquitto: {
          passwordFile: ext.mosquittoPasswordFile,
          aclFile: ext.mosquittoAclFile,
          ...(ext.mosquittoPidFile ? { pidFile: ext.mosquittoPidFile } : {}),
        },
      }
    : {
        kind: 'embedded',
        host: c.broker.embedded?.host ?? '127.0.0.1',
        port: c.broker.embedded?.port ?? 1883,
      };
  return {
    dataDir: c.dataDir,
    ...(c.ledger.origin ? { origin: c.ledger.origin } : {}),
    checkpointEvery: c.ledger.checkpointEvery,
    checkpointIntervalMs: c.ledger.checkpointIntervalMs,
    gapWaitMs: c.ingest.gapWaitMs,
    maxPendingPerGateway: c.ingest.maxPendingPerGateway,
    verifyWorkers: c.ingest.verifyWorkers === 'auto' ? autoVerifyWorkers() : c.ingest.verifyWorkers,
    http: { host: c.http.host, port: c.http.port },
    operatorToken:
      c.http.operatorToken ?? readSecretFile(c.http.operatorTokenFile as string, 'http.operatorTokenFile'),
    broker,
    ...(c.broker.publicUrl ? { publicBrokerUrl: c.broker.publicUrl } : {}),
    tokenTtlMs: c.enrolment.tokenTtlSeconds * 1000,
    maxEnrolFailures: c.enrolment.maxFailures,
    enrolFailureWindowMs: c.enrolment.failureWindowSeconds * 1000,
    ...(c.dashboard ? { dashboard: c.dashboard } : {}),
    engine: {
      currency: c.engine.currency,
      settlementGraceMs: c.engine.settlementGraceSeconds * 1000,
      ...(c.engine.validatorPolicyFile ? { validatorPolicyFile: c.engine.validatorPolicyFile } : {}),
      ...(c.engine.gridModelFile ? { gridModelFile: c.engine.gridModelFile } : {}),
      congestionPeriodMs: c.engine.congestionPeriodSeconds * 1000,
      congestionLeadMs: c.engine.congestionLeadSeconds * 1000,
      ...(c.engine.market ? { market: marketRules(c.engine.market) } : {}),
    },
    ...(c.dashboard?.metrics.bearerToken
      ? { metricsToken: c.dashboard.metrics.bearerToken }
      : c.dashboard?.metrics.bearerTokenFile
        ? {
            metricsToken: readSecretFile(
              c.dashboard.metrics.bearerTokenFile,
              'dashboard.metrics.bearerTokenFile',
            ),
          }
        : {}),
    log,
  };
}

export class Hub {
  private constructor(
    readonly key: HubKey,
    readonly db: Database.Database,
    readonly ledger: Ledger,
    readonly stats: IngestStats,
    readonly ingest: Ingest,
    readonly tokens: EnrollTokens,
    readonly checkpointer: Checkpointer,
    readonly api: Api,
    readonly httpUrl: string,
    readonly brokerUrl: string,
    private readonly client: mqtt.MqttClient,
    readonly embedded: EmbeddedBroker | undefined,
    private readonly log: Logger,
    private readonly verifier: MessageVerifier,
    readonly dashboard: Dashboard | undefined,
    readonly engine: Engine | undefined,
  ) {}

  static async start(o: HubOptions): Promise<Hub> {
    const log = o.log;
    mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
    // The validator's policy and grid model are read before anything starts, so a bad file stops
    // the hub with the key to fix instead of leaving a broker running.
    const setUp = o.engine?.validatorPolicyFile
      ? await setUpValidator({
          secretKey: loadOrCreateValidatorKey(path.join(o.dataDir, VALIDATOR_KEY_FILE)).key.secretKey,
          policyFile: o.engine.validatorPolicyFile,
          ...(o.engine.gridModelFile ? { gridModelFile: o.engine.gridModelFile } : {}),
          currency: o.engine.currency,
          congestionPeriodMs: o.engine.congestionPeriodMs ?? 900_000,
          congestionLeadMs: o.engine.congestionLeadMs ?? 3_600_000,
          log: log.child({ part: 'validator' }),
        })
      : undefined;
    const { key, created } = loadOrCreateHubKey(path.join(o.dataDir, KEY_FILE));
    if (created) log.info({ event: 'hub-key-created', hubId: key.hubId }, 'created the hub log key');
    const origin = o.origin ?? `wattproof/${key.hubId}`;
    const db = new Database(path.join(o.dataDir, LEDGER_FILE));
    const ledger = new Ledger(db, { signer: { origin, secretKey: key.secretKey, publicKey: key.publicKey } });
    const bindings = new Bindings(db);
    const credentials = new MqttCredentials(db);
    const tokens = new EnrollTokens(db);
    const equivocations = new EquivocationStore(db);
    const stats = new IngestStats();

    // The broker and the hub's own MQTT login.
    let embedded: EmbeddedBroker | undefined;
    let brokerUrl: string;
    let hubUser: string;
    let hubPassword: string;
    let mosquittoFiles: MosquittoFiles | undefined;
    let ca: Buffer | undefined;
    if (o.broker.kind === 'embedded') {
      hubUser = HUB_USERNAME;
      hubPassword = randomBytes(32).toString('base64url');
      embedded = await startEmbeddedBroker({
        host: o.broker.host,
        port: o.broker.port,
        hubPassword,
        checkGateway: (u, p) => credentials.check(u, p),
        log: log.child({ part: 'broker' }),
      });
      brokerUrl = embedded.url;
    } else {
      hubUser = o.broker.username;
      hubPassword = o.broker.password;
      brokerUrl = o.broker.url;
      if (o.broker.caFile) ca = readFileSync(o.broker.caFile);
      if (o.broker.mosquitto) {
        mosquittoFiles = new MosquittoFiles({ ...o.broker.mosquitto, hubUsername: hubUser, hubPassword });
        mosquittoFiles.write(credentials.passwordFileText());
      }
    }

    const client = await new Promise<mqtt.MqttClient>((resolve, reject) => {
      const c = mqtt.connect(brokerUrl, {
        username: hubUser,
        password: hubPassword,
        clientId: `wattproof-hub-${key.hubId}`,
        clean: false,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        protocolVersion: 4,
        ...(ca ? { ca } : {}),
      });
      const fail = (err: Error) => {
        c.end(true);
        reject(new Error(`cannot connect to the broker at ${brokerUrl}: ${err.message}`));
      };
      c.once('error', fail);
      c.once('connect', () => {
        c.off('error', fail);
        c.on('error', (err) => log.warn({ event: 'mqtt-error', err: err.message }));
        resolve(c);
      });
    });

    const publish = (topic: string, payload: string) => {
      client.publish(topic, payload, { qos: 1 }, (err) => {
        if (err) log.warn({ event: 'publish-failed', topic, err: err.message });
      });
    };
    const receipts = new ReceiptQueue(ledger, publish, stats);
    const publishStatus = (cp: StoredCheckpoint | undefined, state: 'online' | 'offline') => {
      const status = signMessage(
        HUB_STATUS_TYP,
        key.hubId,
        {
          hub: key.hubId,
          state,
          version: packageVersion(),
          ...(cp ? { checkpoint: cp.note } : {}),
          at: Date.now(),
        },
        key.secretKey,
      );
      client.publish('wattproof/v1/hub/status', status, { qos: 1, retain: true });
    };
    const checkpointer = new Checkpointer(ledger, {
      every: o.checkpointEvery,
      intervalMs: o.checkpointIntervalMs,
      onCheckpoint: (cp) => {
        receipts.onCheckpoint(cp);
        publishStatus(cp, 'online');
      },
      onError: (err) => log.error({ event: 'checkpoint-failed', err: err.message }),
    });
    let engine: Engine | undefined;
    if (o.engine) {
      const e = o.engine;
      const { key: validatorKey } = loadOrCreateValidatorKey(path.join(o.dataDir, VALIDATOR_KEY_FILE));
      const reviewer = setUp?.validator ?? new SimpleReviewer(validatorKey, e.currency);
      engine = new Engine({
        ledger,
        hubKey: key,
        reviewer,
        config: {
          currency: e.currency,
          settlementGraceMs: e.settlementGraceMs,
          ...(e.market ? { market: e.market } : {}),
          ...(e.tickMs !== undefined ? { tickMs: e.tickMs } : {}),
        },
        clock: e.clock ?? Date.now,
        publish: (topic, payload, opts) =>
          client.publish(topic, payload, opts, (err) => {
            if (err) log.warn({ event: 'publish-failed', topic, err: err.message });
          }),
        log: log.child({ part: 'engine' }),
        afterAppend: () => checkpointer.afterCommit(),
        ...(setUp?.congestion ? { congestion: setUp.congestion } : {}),
        rulings: setUp?.validator ?? new KeyRulings(validatorKey),
      });
    }
    const verifier = createMessageVerifier(o.verifyWorkers ?? 0, (err) =>
      log.error(
        { event: 'verify-workers-failed', err: err.message },
        'verifying on the main thread from now on',
      ),
    );
    const ingest = new Ingest({
      ledger,
      bindings,
      verifier,
      equivocations,
      receipts,
      stats,
      hubKey: key,
      log: log.child({ part: 'ingest' }),
      gapWaitMs: o.gapWaitMs,
      maxPendingPerGateway: o.maxPendingPerGateway,
      afterCommit: () => {
        checkpointer.afterCommit();
        engine?.onAppended();
      },
      onAlert: (a) => log.error({ event: 'alert', ...a }, `ALERT ${a.kind}: ${a.detail}`),
    });
    const dashboard = o.dashboard
      ? createDashboard({
          config: o.dashboard,
          hub: {
            id: key.hubId,
            publicKey: key.publicKey,
            logOrigin: origin,
            logVerifierKey: noteVerifierKey(origin, key.publicKey),
          },
          ledger,
          bindings,
          equivocations,
          stats: () => ({ ingest: stats.toJSON() }),
          appendEntry: (jws, typ, kid) => {
            const [e] = ledger.append([{ jws, typ, kid, gw: null, seq: null, receivedMs: Date.now() }]);
            checkpointer.afterCommit();
            return { index: (e as Entry).index };
          },
          verifySignature: new Ed25519Verifier().verifyBytes,
          tls: false,
          log: log.child({ part: 'dashboard' }),
        })
      : undefined;
    // The dashboard watches status, telemetry and proofs as they arrive (telemetry is not ingested
    // into the ledger: it is live data, and may be dropped).
    client.on('message', (topic, payload) => {
      dashboard?.observer.observe(topic, payload);
      if (!topic.endsWith('/telemetry')) ingest.handle(topic, payload);
      // A gateway's birth: the engine sends it its active contracts again (not retained).
      const birth = engine && gatewayBirthOf(topic, payload, (gw) => bindings.get(gw)?.publicKey);
      if (birth) engine?.onGatewayBirth(birth.gw, birth.at);
    });
    await client.subscribeAsync(
      dashboard ? [...INGEST_SUBSCRIPTIONS, 'wattproof/v1/gw/+/telemetry'] : INGEST_SUBSCRIPTIONS,
      { qos: 1 },
    );
    engine?.start();
    // Entries appended before a restart but not yet checkpointed get their checkpoint now.
    checkpointer.afterCommit();
    publishStatus(ledger.latestCheckpoint(), 'online');

    const enrolment = new Enrolment({
      ledger,
      bindings,
      tokens,
      credentials,
      hubKey: key,
      gatewayBrokerUrl: o.publicBrokerUrl ?? brokerUrl,
      limiter: new FailureLimiter({ maxFailures: o.maxEnrolFailures, windowMs: o.enrolFailureWindowMs }),
      onCredentialsChanged: () => {
        if (mosquittoFiles) {
          const signalled = mosquittoFiles.write(credentials.passwordFileText());
          log.info({ event: 'mosquitto-files-written', signalled });
        }
        checkpointer.afterCommit();
      },
    });
    const api = buildApi({
      ledger,
      bindings,
      enrolment,
      tokens,
      equivocations,
      hubKey: key,
      operatorToken: o.operatorToken,
      defaultTokenTtlMs: o.tokenTtlMs,
      stats: () => ({
        ingest: stats.toJSON(),
        broker: embedded ? { refused: embedded.refused } : undefined,
        receiptsWaiting: receipts.waitingCount,
      }),
      fleet: () => ingest.fleet.values(),
      log,
    });
    if (engine) await registerEngineApi(api, { engine, operatorToken: o.operatorToken });
    if (dashboard) {
      await registerDashboard(api, dashboard, o.metricsToken ? { metricsToken: o.metricsToken } : {});
      dashboard.start();
    }
    const httpUrl = await api.listen({ host: o.http.host, port: o.http.port });
    log.info({ event: 'hub-started', hubId: key.hubId, http: httpUrl, broker: brokerUrl, size: ledger.size });
    return new Hub(
      key,
      db,
      ledger,
      stats,
      ingest,
      tokens,
      checkpointer,
      api,
      httpUrl,
      brokerUrl,
      client,
      embedded,
      log,
      verifier,
      dashboard,
      engine,
    );
  }

  /** Resolves when everything received so far is processed and checkpointed. */
  async settle(): Promise<void> {
    await this.ingest.idle();
    this.checkpointer.make();
  }

  async stop(): Promise<void> {
    // Stop taking anything in (HTTP writes, the engine's own entries, MQTT messages) before the
    // last checkpoint, so that checkpoint covers everything appended.
    this.engine?.stop();
    this.dashboard?.stop();
    await this.api.close();
    this.ingest.stop();
    await this.ingest.idle();
    // Cover what was appended last, so its receipts go out before the connection closes.
    this.checkpointer.make();
    this.checkpointer.stop();
    await this.client.endAsync();
    await this.verifier.close();
    await this.embedded?.close();
    // Anything appended while the parts above closed (seen rarely) is covered too; its receipt
    // goes out when the gateway resends after the next start.
    this.checkpointer.make();
    this.db.close();
    this.log.info({ event: 'hub-stopped' });
  }
}
