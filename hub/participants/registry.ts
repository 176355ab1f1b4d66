// The participant registry as part of the ledger fold: applications (self-signed by the
// participant's key), the validator's registration decisions and the hub's gateway bindings.
// Every function checks first and changes the state only when it returns ok, so a refused entry
// leaves the registry exactly as it was.
import type { EnergyType, GatewayBinding, Reason, ValidatorDecision } from '../../protocol/messages/index.js';
import type { ParticipantApplication, ParticipantRole } from '../contracts/messages.js';

/** The result of applying one entry: applied, or refused with a stable code and a sentence. */
export type Verdict = { ok: true } | { ok: false; code: string; message: string };

export const OK: Verdict = { ok: true };
export const refuse = (code: string, message: string): Verdict => ({ ok: false, code, message });

export type ParticipantStatus = 'pending' | 'approved' | 'refused' | 'deregistered';

export interface ParticipantRecord {
  id: string;
  publicKey: string;
  role: ParticipantRole;
  energies: EnergyType[];
  region: string;
  gridNode: string;
  gateways: string[];
  capacityW: number;
  status: ParticipantStatus;
  /** Leaf index of the application, and of the decision that set the status. */
  appliedIndex: number;
  decidedIndex: number | null;
  reasons: Reason[];
  /** The validator queued the application for a person (entry index and why), until decided. */
  queued: { index: number; reasons: Reason[] } | null;
  /** The participant's own request to leave, until the validator answers it. */
  deregistrationRequest: { index: number; at: number; reason: string | null } | null;
}

export interface GatewayRecord {
  gw: string;
  publicKey: string;
  site: string;
  /** The participant named in the enrolment, when there was one. */
  participant: string | null;
  index: number;
}

export interface RegistryState {
  participants: Record<string, ParticipantRecord>;
  gateways: Record<string, GatewayRecord>;
}

export function emptyRegistry(): RegistryState {
  return { participants: {}, gateways: {} };
}

/** The participant the gateway is registered to: an approved participant that lists it. */
export function ownerOfGateway(reg: RegistryState, gw: string): string | undefined {
  for (const p of Object.values(reg.participants))
    if (p.status === 'approved' && p.gateways.includes(gw)) return p.id;
  return undefined;
}

/**
 * The public key of a participant that has applied (pending or decided): ingest verifies contract
 * and cancellation signatures with it.
 */
export function participantKey(reg: RegistryState, id: string): string | undefined {
  return reg.participants[id]?.publicKey;
}

export function isApproved(reg: RegistryState, id: string): boolean {
  return reg.participants[id]?.status === 'approved';
}

/** An application signed by `kid`. A refused or deregistered participant may apply again. */
export function applyApplication(
  reg: RegistryState,
  index: number,
  kid: string,
  app: ParticipantApplication,
): Verdict {
  if (kid !== app.participant)
    return refuse('signer-not-applicant', `signed by ${kid}, but the application is for ${app.participant}`);
  const existing = reg.participants[app.participant];
  if (existing?.status === 'pending')
    return refuse(
      'already-pending',
      `${app.participant} already has an application waiting (entry ${existing.appliedIndex})`,
    );
  if (existing?.status === 'approved')
    return refuse('already-registered', `${app.participant} is already registered`);
  reg.participants[app.participant] = {
    id: app.participant,
    publicKey: app.publicKey,
    role: app.role,
    energies: [...app.energies],
    region: app.region,
    gridNode: app.gridNode,
    gateways: [...app.gateways],
    capacityW: app.capacityW,
    status: 'pending',
    appliedIndex: index,
    decidedIndex: null,
    reasons: [],
    queued: null,
    deregistrationRequest: null,
  };
  return OK;
}

/** A participant's signed request to leave (kid = participant). */
export function applyDeregistrationRequest(
  reg: RegistryState,
  index: number,
  kid: string,
  req: { participant: string; reason?: string | undefined; at: number },
): Verdict {
  if (kid !== req.participant)
    return refuse('signer-not-participant', `signed by ${kid}, but the request is for ${req.participant}`);
  const p = reg.participants[req.participant];
  if (p === undefined || p.status !== 'approved')
    return refuse(
      'not-registered',
      `${req.participant} is ${p?.status ?? 'unknown'}; only a registered participant leaves`,
    );
  if (p.deregistrationRequest !== null)
    return refuse(
      'already-requested',
      `${req.participant} asked to leave already (entry ${p.deregistrationRequest.index})`,
    );
  p.deregistrationRequest = { index, at: req.at, reason: req.reason ?? null };
  return OK;
}

/**
 * A validator decision of kind registration or deregistration. A queued registration keeps the
 * application pending (for a person to decide). A deregistration the participant did not ask
 * for must say why.
 */
export function applyRegistrationDecision(reg: RegistryState, index: number, d: ValidatorDecision): Verdict {
  const p = reg.participants[d.subject];
  if (p === undefined) return refuse('unknown-participant', `no application from ${d.subject} in the log`);
  if (d.kind === 'registration') {
    if (p.status !== 'pending')
      return refuse('not-pending', `${d.subject} is ${p.status}; only a pending application is decided`);
    if (d.outcome === 'queued') {
      if (p.queued !== null)
        return refuse(
          'already-queued',
          `${d.subject} is queued for a person already (entry ${p.queued.index})`,
        );
      p.queued = { index, reasons: [...d.reasons] };
      return OK;
    }
    p.status = d.outcome === 'approved' ? 'approved' : 'refused';
    p.queued = null;
  } else {
    if (p.status !== 'approved')
      return refuse('not-registered', `${d.subject} is ${p.status}; only a registered participant leaves`);
    if (d.outcome === 'approved' && p.deregistrationRequest === null && d.reasons.length === 0)
      return refuse(
        'reason-required',
        `${d.subject} did not ask to leave; a deregistration by the validator names its reasons`,
      );
    if (d.outcome !== 'approved') {
      p.decidedIndex = index;
      p.reasons = [...d.reasons];
      p.deregistrationRequest = null;
      return OK; // a refused deregistration changes nothing but the record of it
    }
    p.status = 'deregistered';
    p.deregistrationRequest = null;
  }
  p.decidedIndex = index;
  p.reasons = [...d.reasons];
  return OK;
}

/**
 * The hub's gateway binding (enrolment). The id is derived from the key, so a gateway's key never
 * changes; a later binding of the same gateway (re-enrolment) updates its site and participant.
 */
export function applyGatewayBinding(reg: RegistryState, index: number, b: GatewayBinding): Verdict {
  reg.gateways[b.gw] = {
    gw: b.gw,
    publicKey: b.publicKey,
    site: b.site,
    participant: b.participant ?? null,
    index,
  };
  return OK;
}
