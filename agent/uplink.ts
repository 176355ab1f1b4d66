// The MQTT uplink: one persistent session (clean: false, client id = gateway id), QoS 1 for proofs
// and events, a retained birth status with a last will that marks the gateway offline, reconnect
// with exponential back-off and jitter, MQTT 3.1.1 or 5. It sends from the outbox oldest first,
// with at most `maxInFlight` messages awaiting their receipt, and deletes a message only when the
// hub's receipt names it. A broker's PUBACK is not storage (see ARCHITECTURE): the outbox is.
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { b64url, openCheckpoint, parseNoteVerifierKey, verifyInclusion } from '../protocol/index.js';
import { parseReceipt } from '../protocol/messages/index.js';
import { subscriptions, topics } from '../protocol/topics.js';
import type { HubConfig } from './config.js';
import type { Outbox, ReceiptRef } from './outbox.js';

export interface MqttCredentials {
  url?: string;
  username?: string;
  password?: string;
  /** The hub's C2SP log verifier key from enrolment: receipts' checkpoints are checked with it. */
  logVerifierKey?: string;
}

export interface UplinkOptions {
  hub: HubConfig;
  credentials: MqttCredentials;
  gatewayId: string;
  outbox: Outbox;
  log: Logger;
  /** Signed status payloads (JWS) for the birth message and the last will, at a given time. */
  statusJws: (state: 'online' | 'offline', at?: number) => string;
  /** Resend what got no receipt after this long (the hub is idempotent). Default 30 s. */
  receiptTimeoutMs?: number;
  /** Wall clock for receipt timestamps. */
  now: () => number;
  /** A contract the hub sent on gw/{id}/cmd/contract (UTF-8 text, unchecked). */
  onContract?: (text: string) => void;
  /** A dispatch command the hub sent on gw/{id}/cmd/dispatch (UTF-8 text, unchecked). */
  onDispatch?: (text: string) => void;
}

export interface UplinkStats {
  connected: boolean;
  connects: number;
  lastConnectedAt: number | null;
  lastError: string | null;
  inFlight: number;
  sent: number;
  receipts: number;
  receiptsRefused: number;
  rejected: number;
  telemetrySent: number;
}

/** Login and TLS options from the config and the enrolled credentials (the config wins). */
export function authOptions(hub: HubConfig, credentials: MqttCredentials): IClientOptions {
  const opts: IClientOptions = {};
  const username = hub.username ?? credentials.username;
  const password =
    hub.password ??
    (hub.passwordFile ? readFileSync(hub.passwordFile, 'utf8').split('\n')[0] : credentials.password);
  if (username !== undefined) opts.username = username;
  if (password !== undefined) opts.password = password;
  if (hub.ca) opts.ca = readFileSync(hub.ca);
  if (hub.clientCert) opts.cert = readFileSync(hub.clientCert);
  if (hub.clientKey) opts.key = readFileSync(hub.clientKey);
  // Never accept a broker certificate that does not verify.
  if (/^(mqtts|wss):/.test(hub.url)) opts.rejectUnauthorized = true;
  return opts;
}

export class Uplink {
  private client: MqttClient | undefined;
  private readonly inFlight = new Map<number, number>();
  private readonly receiptQueue: ReceiptRef[] = [];
  private cursor = -1;
  private attempts = 0;
  /** When the current connection's will was signed; its birth carries the same time. */
  private connectionAt: number | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly stats: UplinkStats = {
    connected: false,
    connects: 0,
    lastConnectedAt: null,
    lastError: null,
    inFlight: 0,
    sent: 0,
    receipts: 0,
    receiptsRefused: 0,
    rejected: 0,
    telemetrySent: 0,
  };
  private readonly verifier;

  constructor(private readonly o: UplinkOptions) {
    this.verifier = o.credentials.logVerifierKey
      ? parseNoteVerifierKey(o.credentials.logVerifierKey)
      : undefined;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  start(): void {
    const { hub, credentials, gatewayId } = this.o;
    const url = credentials.url && !hub.url ? credentials.url : hub.url;
    const opts: IClientOptions = {
      clientId: gatewayId,
      clean: false,
      protocolVersion: hub.protocolVersion,
      keepalive: hub.keepaliveSeconds,
      // Reconnects are ours: exponential back-off with jitter instead of MQTT.js's fixed period.
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      resubscribe: false,
      will: this.will(),
      ...(hub.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
    };
    Object.assign(opts, authOptions(hub, credentials));

    const client = mqtt.connect(url, opts);
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('close', () => this.onClose());
    client.on('error', (err) => {
      // Once per distinct error, not once per reconnect attempt.
      if (this.stats.lastError !== err.message)
        this.o.log.warn({ err: err.message }, 'broker connection error');
      this.stats.lastError = err.message;
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    this.checkTimer = setInterval(() => this.checkReceiptTimeouts(), 1000);
    this.checkTimer.unref();
  }

  /** Graceful stop: announce offline (retained), then disconnect. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.publish(
          topics.gatewayStatus(this.o.gatewayId),
          this.o.statusJws('offline'),
          { qos: 1, retain: true },
          () => {
            clearTimeout(t);
            resolve();
          },
        );
      });
    }
    // A polite end waits for the broker to acknowledge what is in flight; on a half-dead link
    // that never comes, so it gets 2 s and then the socket is closed. The outbox keeps anything
    // unreceipted for the next start.
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => client.end(true, {}, () => resolve()), 2000);
      client.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** New messages are in the outbox: send what the window allows. */
  kick(): void {
    this.pump();
  }

  /** Publishes a telemetry batch (QoS 0). Returns false when offline (the caller keeps it). */
  publishTelemetry(jws: string, expirySeconds: number): boolean {
    const client = this.client;
    if (!client?.connected) return false;
    const opts =
      this.o.hub.protocolVersion === 5
        ? { qos: 0 as const, properties: { messageExpiryInterval: expirySeconds } }
        : { qos: 0 as const };
    client.publish(topics.telemetry(this.o.gatewayId), jws, opts);
    this.stats.telemetrySent++;
    return true;
  }

  /**
   * The last will of the next connection. It is signed before the connection, so it carries the
   * same `at` as that connection's birth: a hub that keeps the newest status by `at` then takes
   * this will over this birth, but never an older connection's will over a newer birth.
   */
  private will(): IClientOptions['will'] {
    this.connectionAt = this.o.now();
    return {
      topic: topics.gatewayStatus(this.o.gatewayId),
      payload: Buffer.from(this.o.statusJws('offline', this.connectionAt)),
      qos: 1,
      retain: true,
    };
  }

  private onConnect(): void {
    const client = this.client!;
    this.attempts = 0;
    this.stats.connected = true;
    this.stats.connects++;
    this.stats.lastConnectedAt = this.o.now();
    this.stats.lastError = null;
    this.o.log.info({ connects: this.stats.connects }, 'connected to the broker');
    client.subscribe(subscriptions.receipts(this.o.gatewayId), { qos: 1 }, (err) => {
      if (err) this.o.log.error({ err: err.message }, 'subscribing to receipts failed');
    });
    if (this.o.onContract)
      client.subscribe(topics.command(this.o.gatewayId, 'contract'), { qos: 1 }, (err) => {
        if (err) this.o.log.error({ err: err.message }, 'subscribing to contracts failed');
      });
    if (this.o.onDispatch)
      client.subscribe(topics.command(this.o.gatewayId, 'dispatch'), { qos: 1 }, (err) => {
        if (err) this.o.log.error({ err: err.message }, 'subscribing to dispatch commands failed');
      });
    client.publish(topics.gatewayStatus(this.o.gatewayId), this.o.statusJws('online', this.connectionAt), {
      qos: 1,
      retain: true,
    });
    // After a (re)connect, anything not receipted may be lost in transit: resend from the oldest.
    this.inFlight.clear();
    this.cursor = -1;
    this.pump();
  }

  private onClose(): void {
    if (this.stats.connected) this.o.log.warn('disconnected from the broker');
    this.stats.connected = false;
    if (this.stopping) return;
    if (this.reconnectTimer) return;
    const { reconnectMinMs, reconnectMaxMs } = this.o.hub;
    const ceiling = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(this.attempts, 20));
    // "Equal jitter": half fixed, half random, so many gateways do not come back in lockstep.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempts++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopping || !this.client) return;
      this.client.options.will = this.will();
      this.client.reconnect();
    }, delay);
  }

  private pump(): void {
    const client = this.client;
    if (!client?.connected || this.stopping) return;
    const room = this.o.hub.maxInFlight - this.inFlight.size;
    if (room <= 0) return;
    const rows = this.o.outbox.pending(this.cursor, room);
    for (const row of rows) {
      const topic = row.kind === 'proof' ? topics.proof(this.o.gatewayId) : topics.event(this.o.gatewayId);
      this.inFlight.set(row.seq, Date.now());
      this.cursor = row.seq;
      client.publish(topic, row.jws, { qos: 1 }, (err) => {
        if (err) this.o.log.warn({ seq: row.seq, err: err.message }, 'publish failed; will resend');
      });
      this.stats.sent++;
    }
    this.stats.inFlight = this.inFlight.size;
  }

  private checkReceiptTimeouts(): void {
    const timeout = this.o.receiptTimeoutMs ?? 30_000;
    const now = Date.now();
    for (const sentAt of this.inFlight.values()) {
      if (now - sentAt > timeout) {
        this.o.log.warn({ inFlight: this.inFlight.size }, 'no receipt in time; resending from the oldest');
        this.inFlight.clear();
        this.cursor = -1;
        this.pump();
        return;
      }
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic === topics.command(this.o.gatewayId, 'contract')) {
      this.o.onContract?.(payload.toString('utf8'));
      return;
    }
    if (topic === topics.command(this.o.gatewayId, 'dispatch')) {
      this.o.onDispatch?.(payload.toString('utf8'));
      return;
    }
    if (topic !== topics.receipt(this.o.gatewayId)) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      this.refuse('receipt is not JSON');
      return;
    }
    const parsed = parseReceipt(json);
    if (!parsed.ok) {
      this.refuse(
        `receipt does not match the schema: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      );
      return;
    }
    const r = parsed.value;
    if (r.gw !== this.o.gatewayId) {
      this.refuse(`receipt names another gateway (${r.gw})`);
      return;
    }
    if (r.status === 'rejected') {
      if (r.seq === undefined) return;
      if (this.o.outbox.markRejected(r.seq, r.messageHash, r.reason)) {
        this.stats.rejected++;
        this.o.log.error(
          { seq: r.seq, reason: r.reason, detail: r.detail },
          'the hub rejected a message; kept in the outbox',
        );
      }
      this.inFlight.delete(r.seq);
      this.pump();
      return;
    }
    if (this.verifier) {
      const cp = openCheckpoint(r.checkpoint, [this.verifier]);
      const ok =
        cp.ok &&
        verifyInclusion(
          b64url.decode(r.leafHash),
          r.index,
          cp.checkpoint.size,
          r.inclusionProof.map((h) => b64url.decode(h)),
          cp.checkpoint.root,
        );
      if (!ok) {
        this.refuse(`receipt for seq ${r.seq}: checkpoint or inclusion proof does not verify`);
        return;
      }
    }
    this.receiptQueue.push(r);
    if (this.receiptQueue.length === 1) setImmediate(() => this.flushReceipts());
  }

  /** Receipts that arrived together are applied in one transaction. */
  private flushReceipts(): void {
    const batch = this.receiptQueue.splice(0);
    if (batch.length === 0) return;
    const outcomes = this.o.outbox.applyReceipts(batch, this.o.now());
    outcomes.forEach((outcome, i) => {
      const r = batch[i]!;
      if (!outcome.ok) {
        this.refuse(`${outcome.reason}: ${outcome.detail}`);
        return;
      }
      this.stats.receipts++;
      this.inFlight.delete(r.seq);
    });
    this.pump();
  }

  private refuse(why: string): void {
    this.stats.receiptsRefused++;
    this.o.log.warn({ why }, 'receipt refused; the message stays in the outbox');
  }
}
