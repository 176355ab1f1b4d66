// Example keys and one valid payload of every message type. The test vectors, the worked examples
// in docs/protocol.md and the tests start from these. The keys are derived from public labels:
// they are for examples and tests only and must never sign anything real.
import { b64url } from '../bytes.js';
import { sha256 } from '../hash.js';
import { deriveId, type IdKind } from '../identity.js';
import { publicKeyOf } from '../keys.js';
import type { CommandAck } from './command-ack.js';
import type { Complaint } from './complaint.js';
import type { EnergyContract, FlexibilityContract } from './contract.js';
import type {
  ContractActivation,
  ContractCancellation,
  ContractClose,
  SettlementPayload,
} from './contract-lifecycle.js';
import type { DeregistrationRequest } from './deregistration-request.js';
import type { DispatchCommand } from './dispatch-command.js';
import type { DispatchResponse } from './dispatch-response.js';
import type { Dispute } from './dispute.js';
import type { FulfilmentEvent } from './fulfilment.js';
import type { GapNote } from './gap-note.js';
import type { GatewayBinding } from './gateway-binding.js';
import type { GatewayStatus } from './gateway-status.js';
import type { HubStatus } from './hub-status.js';
import { type AuctionResult, type MarketMatch, matchesHashOf } from './market.js';
import type { MeterProof } from './meter-proof.js';
import type { OperatorCredit } from './operator-credit.js';
import type { ParticipantApplication } from './participant-application.js';
import type { PricePublication } from './price.js';
import type { TelemetryBatch } from './telemetry.js';
import type { ValidatorDecision } from './validator-decision.js';

export interface ExampleKey {
  label: string;
  kind: IdKind;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  id: string;
}

/** secret key = SHA-256("wattproof example key " + label): public, deterministic, never for real use. */
export function exampleKey(label: string, kind: IdKind): ExampleKey {
  const secretKey = sha256(`wattproof example key ${label}`);
  const publicKey = publicKeyOf(secretKey);
  return { label, kind, secretKey, publicKey, id: deriveId(kind, publicKey) };
}

export const EXAMPLE_KEYS = {
  gatewayA: exampleKey('gateway-a', 'gw'),
  gatewayB: exampleKey('gateway-b', 'gw'),
  seller: exampleKey('seller', 'pt'),
  buyer: exampleKey('buyer', 'pt'),
  hub: exampleKey('hub', 'hub'),
  validator: exampleKey('validator', 'val'),
  operator: exampleKey('operator', 'op'),
} as const;

/** 2026-01-15T10:00:00Z, the start of the examples' first interval. */
export const EXAMPLE_T0 = Date.UTC(2026, 0, 15, 10, 0, 0);
const Q = 900_000;

const hashOf = (label: string) => b64url.encode(sha256(label));

export function exampleMeterProof(seq = 0, prev: string | null = null): MeterProof {
  const start = EXAMPLE_T0 + seq * Q;
  return {
    gw: EXAMPLE_KEYS.gatewayA.id,
    seq,
    prev,
    meter: { id: 'grid-meter', serial: 'SN-1029384', model: 'EM24-DIN', manufacturer: 'Carlo Gavazzi' },
    energy: 'electricity',
    interval: { start, end: start + Q },
    importWh: { start: 1_234_000 + seq * 150, end: 1_234_000 + (seq + 1) * 150 },
    exportWh: { start: 987_000 + seq * 420, end: 987_000 + (seq + 1) * 420 },
    samples: 90,
    expectedSamples: 90,
    flags: [],
    signedAt: start + Q + 1_250,
  };
}

export function exampleTelemetry(): TelemetryBatch {
  return {
    gw: EXAMPLE_KEYS.gatewayA.id,
    samples: [
      { t: EXAMPLE_T0 + 10_000, device: 'inverter', point: 'W', value: 3120 },
      { t: EXAMPLE_T0 + 10_000, device: 'inverter', point: 'PhVphA', value: 2304, scale: -1 },
    ],
    sentAt: EXAMPLE_T0 + 15_000,
  };
}

export function exampleGatewayStatus(): GatewayStatus {
  return {
    gw: EXAMPLE_KEYS.gatewayA.id,
    state: 'online',
    version: '0.1.0',
    configHash: hashOf('agent.yaml'),
    clockSynchronised: true,
    at: EXAMPLE_T0 - 60_000,
  };
}

export function exampleEnergyContract(): EnergyContract {
  return {
    product: 'energy',
    seller: EXAMPLE_KEYS.seller.id,
    buyer: EXAMPLE_KEYS.buyer.id,
    energy: 'electricity',
    settlementPeriodMs: Q,
    window: { start: EXAMPLE_T0, end: EXAMPLE_T0 + 4 * Q },
    currency: 'EUR',
    deliveryPoints: {
      seller: [{ gw: EXAMPLE_KEYS.gatewayA.id, meter: 'grid-meter' }],
      buyer: [{ gw: EXAMPLE_KEYS.gatewayB.id, meter: 'grid-meter' }],
    },
    deposits: { seller: 500, buyer: 1000 },
    disputeWindowMs: 7 * 24 * 3_600_000,
    region: 'north',
    nonce: 'bm9uY2Utb2YtdGhlLWV4YW1wbGU',
    createdAt: EXAMPLE_T0 - 86_400_000,
    quantity: { wh: 400, per: 'interval' },
    priceMinorPerKWh: 21,
    penaltyMinorPerKWh: 10,
  };
}

export function exampleFlexibilityContract(): FlexibilityContract {
  const e = exampleEnergyContract();
  return {
    product: 'flexibility',
    seller: e.seller,
    buyer: e.buyer,
    energy: 'electricity',
    settlementPeriodMs: Q,
    window: e.window,
    currency: 'EUR',
    deliveryPoints: e.deliveryPoints,
    deposits: e.deposits,
    disputeWindowMs: e.disputeWindowMs,
    nonce: 'ZmxleGliaWxpdHktZXhhbXBsZQ',
    createdAt: e.createdAt,
    maxDischargeW: 3000,
    maxChargeW: 3000,
    availabilityMinor: 150,
    responseMinorPerKWh: 30,
    penaltyMinorPerKWh: 60,
  };
}

export function exampleFulfilment(
  seq: number,
  prev: string,
  contract: string,
  proofs: string[],
): FulfilmentEvent {
  return {
    gw: EXAMPLE_KEYS.gatewayA.id,
    seq,
    prev,
    contract,
    role: 'seller',
    window: { start: EXAMPLE_T0, end: EXAMPLE_T0 + 4 * Q },
    contractedWh: 1600,
    measuredWh: 1260,
    outcome: 'partial',
    proofs,
    signedAt: EXAMPLE_T0 + 4 * Q + 5_000,
  };
}

export function exampleDispatchCommand(contract: string): DispatchCommand {
  return {
    contract,
    gw: EXAMPLE_KEYS.gatewayA.id,
    setpointW: -2500,
    start: EXAMPLE_T0 + 600_000,
    end: EXAMPLE_T0 + 1_500_000,
    expires: EXAMPLE_T0 + 660_000,
    nonce: 'ZGlzcGF0Y2gtbm9uY2UtMDE',
    issuedAt: EXAMPLE_T0 + 590_000,
  };
}

export function exampleDispatchResponse(
  seq: number,
  prev: string,
  command: string,
  contract: string,
): DispatchResponse {
  return {
    gw: EXAMPLE_KEYS.gatewayA.id,
    seq,
    prev,
    command,
    contract,
    outcome: 'applied',
    appliedW: -2500,
    measuredW: -2470,
    at: EXAMPLE_T0 + 602_000,
  };
}

export function exampleCommandAck(commandHash: string): CommandAck {
  return {
    gw: EXAMPLE_KEYS.gatewayA.id,
    command: 'dispatch',
    commandHash,
    accepted: true,
    at: EXAMPLE_T0 + 591_000,
  };
}

export function exampleValidatorDecision(subject: string): ValidatorDecision {
  return {
    kind: 'contract-review',
    subject,
    outcome: 'approved',
    reasons: [],
    inputsHash: hashOf('policy.yaml'),
    at: EXAMPLE_T0 - 80_000_000,
  };
}

export function exampleGatewayBinding(key: ExampleKey = EXAMPLE_KEYS.gatewayA): GatewayBinding {
  return {
    gw: key.id,
    publicKey: b64url.encode(key.publicKey),
    site: 'site-7',
    participant: EXAMPLE_KEYS.seller.id,
    at: EXAMPLE_T0 - 3_600_000,
  };
}

export function exampleGapNote(from: number, to: number): GapNote {
  return {
    gw: EXAMPLE_KEYS.gatewayA.id,
    from,
    to,
    reason: 'not received within 30000 ms',
    at: EXAMPLE_T0 + 7_200_000,
  };
}

export function exampleHubStatus(checkpoint?: string): HubStatus {
  return {
    hub: EXAMPLE_KEYS.hub.id,
    state: 'online',
    version: '0.1.0',
    ...(checkpoint === undefined ? {} : { checkpoint }),
    at: EXAMPLE_T0,
  };
}

export function examplePrices(): PricePublication {
  return {
    hub: EXAMPLE_KEYS.hub.id,
    region: 'north',
    energy: 'electricity',
    currency: 'EUR',
    intervals: [
      { start: EXAMPLE_T0, end: EXAMPLE_T0 + Q, clearingMinorPerKWh: 19, volumeWh: 12_400 },
      { start: EXAMPLE_T0 + Q, end: EXAMPLE_T0 + 2 * Q, clearingMinorPerKWh: 22, volumeWh: 9_800 },
    ],
    at: EXAMPLE_T0 + 2 * Q + 1_000,
  };
}

export function exampleParticipantApplication(key: ExampleKey = EXAMPLE_KEYS.seller): ParticipantApplication {
  return {
    participant: key.id,
    publicKey: b64url.encode(key.publicKey),
    role: 'household',
    energies: ['electricity'],
    region: 'north',
    gridNode: 'bus-3',
    gateways: [EXAMPLE_KEYS.gatewayA.id],
    capacityW: 10_000,
    at: EXAMPLE_T0 - 86_400_000,
  };
}

export function exampleOperatorCredit(account = EXAMPLE_KEYS.buyer.id): OperatorCredit {
  return {
    account,
    amountMinor: 50_000,
    currency: 'EUR',
    reference: 'transfer 2026-01-14/0042',
    at: EXAMPLE_T0 - 3_600_000,
  };
}

export function exampleContractActivation(contract: string): ContractActivation {
  return { contract, at: EXAMPLE_T0 - 60_000 };
}

export function exampleContractCancellation(
  contract: string,
  party = EXAMPLE_KEYS.buyer.id,
): ContractCancellation {
  return { contract, party, reason: 'moved house', at: EXAMPLE_T0 - 120_000 };
}

/** A settlement of a contract of 1,000 Wh at 25 minor/kWh of which 800 Wh were delivered. */
export function exampleSettlement(contract: string, proofsHash: string): SettlementPayload {
  return {
    contract,
    outcome: 'partial',
    contractedWh: 1000,
    sellerExportWh: 800,
    buyerImportWh: 950,
    deliveredWh: 800,
    shortfallWh: 200,
    paymentMinor: 20,
    penaltyMinor: 8,
    unpaidMinor: 0,
    released: { seller: 492, buyer: 480 },
    proofCount: 8,
    proofsHash,
    at: EXAMPLE_T0 + 4 * Q + 300_000,
  };
}

export function exampleContractClose(contract: string): ContractClose {
  return { contract, at: EXAMPLE_T0 + 30 * 86_400_000 };
}

export function exampleDeregistrationRequest(participant = EXAMPLE_KEYS.seller.id): DeregistrationRequest {
  return { participant, reason: 'house sold', at: EXAMPLE_T0 + 40 * 86_400_000 };
}

/** The buyer disputes a settlement, citing the settlement and one meter proof. */
export function exampleDispute(contract: string, evidence: readonly string[]): Dispute {
  return {
    contract,
    party: EXAMPLE_KEYS.buyer.id,
    claim: 'my meter was replaced at 10:15; the proof of 10:15-10:30 undercounts what I took',
    claimMinor: 12,
    evidence: [...evidence],
    at: EXAMPLE_T0 + 4 * Q + 3_600_000,
  };
}

export function exampleComplaint(about = EXAMPLE_KEYS.seller.id, contract?: string): Complaint {
  return {
    complainant: EXAMPLE_KEYS.buyer.id,
    about,
    ...(contract === undefined ? {} : { contract }),
    text: 'the seller cancels contracts an hour before delivery, repeatedly',
    evidence: [],
    at: EXAMPLE_T0 + 2 * 86_400_000,
  };
}

/** An auction of the example book that cleared one match of 1,000 Wh at 21 minor/kWh. */
export function exampleAuctionResult(offer: string, bid: string): AuctionResult {
  return {
    book: { region: 'north', product: 'energy', energy: 'electricity' },
    interval: { start: EXAMPLE_T0, end: EXAMPLE_T0 + Q },
    gateAt: EXAMPLE_T0 - 300_000,
    lastIndex: 41,
    rulesHash: hashOf('market rules'),
    orders: 2,
    priceMinor: 21,
    range: { low: 18, high: 24 },
    volume: 1000,
    matches: 1,
    matchesHash: matchesHashOf([{ offer, bid, quantity: 1000 }]),
    at: EXAMPLE_T0 - 300_000,
  };
}

/** The contract the example auction's match makes: the example energy contract, one interval. */
export function exampleMarketMatch(offer: string, bid: string, contractId: string): MarketMatch {
  const contract = exampleEnergyContract();
  return {
    mode: 'auction',
    offer,
    bid,
    quantity: 1000,
    priceMinor: 21,
    contractId,
    contract,
    at: EXAMPLE_T0 - 300_000,
  };
}
