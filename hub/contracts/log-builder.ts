// Builds ledger entries for the contracts fold, in order, the way ingest would append them: for
// tests, the worked example in docs/contracts.md and demos. With keys it signs real compact JWSs
// (and the entries are read back with logEntryFromJws, exactly as a replay reads the log);
// without, it makes unsigned entries with a stand-in message hash, which is enough for the fold
// (it trusts ingest for signatures) and fast enough for property tests.
import { b64url, canonicalJson, sha256, signJws } from '../../protocol/index.js';
import {
  COMPLAINT_TYP,
  CONTRACT_TYP,
  type Complaint,
  type Contract,
  DEREGISTRATION_REQUEST_TYP,
  DISPUTE_TYP,
  type Dispute,
  FULFILMENT_TYP,
  type FulfilmentEvent,
  fulfilmentOutcome,
  GATEWAY_BINDING_TYP,
  METER_PROOF_TYP,
  type MeterProof,
  type MeterProofFlag,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
} from '../../protocol/messages/index.js';
import { type LogEntry, logEntryFromJws } from './fold.js';
import {
  CONTRACT_ACTIVATION_TYP,
  CONTRACT_CANCELLATION_TYP,
  CONTRACT_CLOSE_TYP,
  OPERATOR_CREDIT_TYP,
  PARTICIPANT_APPLICATION_TYP,
  type ParticipantApplication,
  SETTLEMENT_TYP,
  type SettlementPayload,
} from './messages.js';

export interface BuilderKey {
  id: string;
  publicKey: Uint8Array;
  secretKey?: Uint8Array;
}

export class LogBuilder {
  readonly entries: LogEntry[] = [];
  /** The compact JWSs, when signing. */
  readonly compacts: string[] = [];
  private readonly chains = new Map<string, { seq: number; prev: string | null }>();

  constructor(private readonly opts: { sign?: boolean; secretKeyFor?: (kid: string) => Uint8Array } = {}) {}

  /** Appends one entry signed by `kid`. */
  add(typ: string, kid: string, payload: unknown): LogEntry {
    const index = this.entries.length;
    let entry: LogEntry;
    if (this.opts.sign) {
      const secret = this.opts.secretKeyFor?.(kid);
      if (secret === undefined) throw new Error(`no secret key for ${kid}`);
      const compact = signJws(typ, kid, payload, secret);
      const e = logEntryFromJws(index, compact);
      if (e === undefined) throw new Error('signed entry does not decode');
      this.compacts.push(compact);
      entry = e;
    } else {
      // A stand-in message hash: unique per entry, a valid 32-byte base64url value.
      const messageHash = b64url.encode(sha256(`${index} ${typ} ${kid} ${canonicalJson(payload)}`));
      // Round-trip through JSON so the payload is what JSON.parse would give a replay.
      entry = { index, typ, kid, payload: JSON.parse(canonicalJson(payload)) as unknown, messageHash };
    }
    this.entries.push(entry);
    return entry;
  }

  /** Appends an entry signed elsewhere (e.g. by the Validator service), as ingest would. */
  appendSigned(compact: string): LogEntry {
    const e = logEntryFromJws(this.entries.length, compact);
    if (e === undefined) throw new Error('the compact JWS does not decode');
    this.compacts.push(compact);
    this.entries.push(e);
    return e;
  }

  /** The next chain link of a gateway (seq, prev) as its agent would assign it. */
  private link(gw: string): { seq: number; prev: string | null } {
    return this.chains.get(gw) ?? { seq: 0, prev: null };
  }

  private advance(gw: string, entry: LogEntry): void {
    const l = this.link(gw);
    this.chains.set(gw, { seq: l.seq + 1, prev: entry.messageHash });
  }

  binding(hub: string, gw: BuilderKey, participant: string | undefined, at: number): LogEntry {
    const payload: Record<string, unknown> = {
      gw: gw.id,
      publicKey: b64url.encode(gw.publicKey),
      site: 'home',
    };
    if (participant !== undefined) payload['participant'] = participant;
    payload['at'] = at;
    return this.add(GATEWAY_BINDING_TYP, hub, payload);
  }

  application(pt: BuilderKey, fields: Omit<ParticipantApplication, 'participant' | 'publicKey'>): LogEntry {
    return this.add(PARTICIPANT_APPLICATION_TYP, pt.id, {
      participant: pt.id,
      publicKey: b64url.encode(pt.publicKey),
      ...fields,
    });
  }

  decision(val: string, d: ValidatorDecision): LogEntry {
    return this.add(VALIDATOR_DECISION_TYP, val, d);
  }

  credit(hub: string, account: string, amountMinor: number, at: number, currency = 'EUR'): LogEntry {
    return this.add(OPERATOR_CREDIT_TYP, hub, {
      account,
      amountMinor,
      currency,
      reference: `transfer-${at}`,
      at,
    });
  }

  /** Both signatures of a contract: two leaves over the same payload. */
  contract(c: Contract, order: ('seller' | 'buyer')[] = ['seller', 'buyer']): LogEntry[] {
    return order.map((side) => this.add(CONTRACT_TYP, c[side], c));
  }

  activation(hub: string, contract: string, at: number): LogEntry {
    return this.add(CONTRACT_ACTIVATION_TYP, hub, { contract, at });
  }

  cancellation(party: string, contract: string, at: number): LogEntry {
    return this.add(CONTRACT_CANCELLATION_TYP, party, { contract, party, at });
  }

  settlement(hub: string, payload: SettlementPayload): LogEntry {
    return this.add(SETTLEMENT_TYP, hub, payload);
  }

  close(hub: string, contract: string, at: number): LogEntry {
    return this.add(CONTRACT_CLOSE_TYP, hub, { contract, at });
  }

  deregistrationRequest(participant: string, at: number, reason?: string): LogEntry {
    return this.add(DEREGISTRATION_REQUEST_TYP, participant, {
      participant,
      ...(reason === undefined ? {} : { reason }),
      at,
    });
  }

  dispute(d: Dispute): LogEntry {
    return this.add(DISPUTE_TYP, d.party, d);
  }

  complaint(c: Complaint): LogEntry {
    return this.add(COMPLAINT_TYP, c.complainant, c);
  }

  /**
   * A meter proof of `gw`'s meter for [start, start + periodMs), with the given import and export
   * energies (counters continue from `counters`, which the call advances).
   */
  proof(
    gw: string,
    meter: string,
    start: number,
    periodMs: number,
    energy: { importWh: number; exportWh: number },
    counters: { importWh: number; exportWh: number },
    flags: MeterProofFlag[] = [],
  ): LogEntry {
    const l = this.link(gw);
    const payload: MeterProof = {
      gw,
      seq: l.seq,
      prev: l.prev,
      meter: { id: meter, serial: `SN-${meter}` },
      energy: 'electricity',
      interval: { start, end: start + periodMs },
      importWh: { start: counters.importWh, end: counters.importWh + energy.importWh },
      exportWh: { start: counters.exportWh, end: counters.exportWh + energy.exportWh },
      samples: 90,
      expectedSamples: 90,
      flags: [...flags].sort(),
      signedAt: start + periodMs + 1_000,
    };
    counters.importWh += energy.importWh;
    counters.exportWh += energy.exportWh;
    const e = this.add(METER_PROOF_TYP, gw, payload);
    this.advance(gw, e);
    return e;
  }

  /** A fulfilment event of `gw` with the given claim (outcome derived as the schema requires). */
  fulfilment(
    gw: string,
    claim: Omit<FulfilmentEvent, 'gw' | 'seq' | 'prev' | 'outcome' | 'signedAt'> & { signedAt?: number },
  ): LogEntry {
    const l = this.link(gw);
    const payload: FulfilmentEvent = {
      gw,
      seq: l.seq,
      prev: l.prev,
      contract: claim.contract,
      role: claim.role,
      window: claim.window,
      contractedWh: claim.contractedWh,
      measuredWh: claim.measuredWh,
      outcome: fulfilmentOutcome(claim.contractedWh, claim.measuredWh),
      proofs: claim.proofs,
      signedAt: claim.signedAt ?? claim.window.end + 5_000,
    };
    const e = this.add(FULFILMENT_TYP, gw, payload);
    this.advance(gw, e);
    return e;
  }
}
