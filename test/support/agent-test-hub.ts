// The hub, played by a test: subscribes to a gateway's proofs, verifies each JWS with the
// gateway's public key, checks the chain (seq and prev), keeps what it accepted in order, and
// answers with receipts in the format of docs/hub.md (a real Merkle leaf hash and index; the
// checkpoint is unsigned because the agent under test is not given a log key).
import mqtt, { type MqttClient } from 'mqtt';
import {
  b64url,
  concatBytes,
  messageHashB64,
  rootOf,
  sha256,
  utf8,
  verifyJws,
} from '../../protocol/index.js';
import { METER_PROOF_TYP, type MeterProof, parseMeterProof } from '../../protocol/messages/index.js';
import { topics } from '../../protocol/topics.js';

export interface AcceptedProof {
  seq: number;
  jws: string;
  hash: string;
  proof: MeterProof;
}

export class TestHub {
  readonly accepted: AcceptedProof[] = [];
  readonly errors: string[] = [];
  readonly receiptsSent: number[] = [];
  duplicates = 0;
  outOfOrder = 0;
  /** While false, proofs are verified and kept but no receipt goes back. */
  sendReceipts = true;
  private readonly leaves: Uint8Array[] = [];
  private held: AcceptedProof[] = [];
  statusMessages: string[] = [];
  telemetryBatches = 0;

  private constructor(
    private readonly client: MqttClient,
    private readonly gw: string,
    private readonly publicKey: Uint8Array,
  ) {}

  static async start(url: string, gw: string, publicKey: Uint8Array): Promise<TestHub> {
    const client = mqtt.connect(url, {
      clientId: `test-hub-${Math.random().toString(36).slice(2)}`,
      clean: false,
      resubscribe: false,
      reconnectPeriod: 100,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 3600 },
    });
    const hub = new TestHub(client, gw, publicKey);
    client.on('message', (topic, payload) => hub.onMessage(topic, payload.toString('utf8')));
    // Subscribe on every connect: a restarted broker without persistence forgot the session.
    await new Promise<void>((resolve, reject) => {
      client.on('connect', () => {
        const filters = [topics.proof(gw), topics.gatewayStatus(gw), topics.telemetry(gw)];
        client.subscribe(filters, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
      });
      client.once('error', reject);
    });
    return hub;
  }

  /** Sends the receipts held back while sendReceipts was false. */
  releaseReceipts(): void {
    this.sendReceipts = true;
    for (const p of this.held.splice(0)) this.receipt(p, 'accepted');
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }

  private onMessage(topic: string, text: string): void {
    if (topic === topics.gatewayStatus(this.gw)) {
      this.statusMessages.push(text);
      return;
    }
    if (topic === topics.telemetry(this.gw)) {
      this.telemetryBatches++;
      return;
    }
    const v = verifyJws(text, { typ: METER_PROOF_TYP, kid: this.gw, publicKeyFor: () => this.publicKey });
    if (!v.ok) {
      this.errors.push(`verify: ${v.reason} ${v.detail}`);
      return;
    }
    const parsed = parseMeterProof(v.payload);
    if (!parsed.ok) {
      this.errors.push(`schema: ${JSON.stringify(parsed.issues)}`);
      return;
    }
    const proof = parsed.value;
    const hash = messageHashB64(text);
    const existing = this.accepted[proof.seq];
    if (existing) {
      if (existing.hash !== hash) this.errors.push(`equivocation at seq ${proof.seq}`);
      else {
        this.duplicates++;
        if (this.sendReceipts) this.receipt(existing, 'duplicate');
      }
      return;
    }
    if (proof.seq !== this.accepted.length) {
      // Ahead of the chain (its predecessors were lost on the way, e.g. published while this hub
      // was reconnecting): the agent resends from the oldest unreceipted, so wait for those.
      this.outOfOrder++;
      return;
    }
    const prev = this.accepted.at(-1)?.hash ?? null;
    if (proof.prev !== prev) {
      this.errors.push(`prev mismatch at seq ${proof.seq}`);
      return;
    }
    const a: AcceptedProof = { seq: proof.seq, jws: text, hash, proof };
    this.accepted.push(a);
    this.leaves.push(sha256(concatBytes(new Uint8Array([0]), utf8(text))));
    if (this.sendReceipts) this.receipt(a, 'accepted');
    else this.held.push(a);
  }

  private receipt(a: AcceptedProof, status: 'accepted' | 'duplicate'): void {
    const size = this.leaves.length;
    const root = b64url.encode(rootOf(this.leaves));
    const body = {
      status,
      gw: this.gw,
      seq: a.seq,
      messageHash: a.hash,
      index: a.seq,
      leafHash: b64url.encode(this.leaves[a.seq] as Uint8Array),
      checkpoint: `test-hub\n${size}\n${root}\n\n— test-hub unsigned\n`,
      inclusionProof: [],
    };
    this.receiptsSent.push(a.seq);
    this.client.publish(topics.receipt(this.gw), JSON.stringify(body), { qos: 1 });
  }
}
