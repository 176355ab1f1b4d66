// Every Wattproof message type: its JWS `typ`, its schema, who signs it, and whether it is
// chained. The hub, the agent and the standalone verifier all look types up here.
import type { z } from 'zod';
import { type ChainCheck, checkChainLink, messageHashB64 } from '../chain.js';
import { type IdKind, idKind } from '../identity.js';
import { type JwsHeader, type JwsRejectReason, signJws, type VerifyJwsOptions, verifyJws } from '../jws.js';
import { COMMAND_ACK_TYP, commandAckSchema } from './command-ack.js';
import { type ChainFields, formatIssues, type ParseIssue, parseWith } from './common.js';
import { COMPLAINT_TYP, complaintSchema } from './complaint.js';
import { CONTRACT_TYP, contractSchema } from './contract.js';
import {
  CONTRACT_ACTIVATION_TYP,
  CONTRACT_CANCELLATION_TYP,
  CONTRACT_CLOSE_TYP,
  contractActivationSchema,
  contractCancellationSchema,
  contractCloseSchema,
  SETTLEMENT_TYP,
  settlementSchema,
} from './contract-lifecycle.js';
import { DEREGISTRATION_REQUEST_TYP, deregistrationRequestSchema } from './deregistration-request.js';
import { DISPATCH_COMMAND_TYP, dispatchCommandSchema } from './dispatch-command.js';
import { DISPATCH_RESPONSE_TYP, dispatchResponseSchema } from './dispatch-response.js';
import { DISPUTE_TYP, disputeSchema } from './dispute.js';
import { FULFILMENT_TYP, fulfilmentEventSchema } from './fulfilment.js';
import { GAP_NOTE_TYP, gapNoteSchema } from './gap-note.js';
import { GATEWAY_BINDING_TYP, gatewayBindingSchema } from './gateway-binding.js';
import { GATEWAY_STATUS_TYP, gatewayStatusSchema } from './gateway-status.js';
import { HUB_STATUS_TYP, hubStatusSchema } from './hub-status.js';
import { AUCTION_RESULT_TYP, auctionResultSchema, MARKET_MATCH_TYP, marketMatchSchema } from './market.js';
import { METER_PROOF_TYP, meterProofSchema } from './meter-proof.js';
import { OPERATOR_CREDIT_TYP, operatorCreditSchema } from './operator-credit.js';
import { ORDER_TYP, orderSchema } from './order.js';
import { PARTICIPANT_APPLICATION_TYP, participantApplicationSchema } from './participant-application.js';
import { PRICE_TYP, pricePublicationSchema } from './price.js';
import { TELEMETRY_TYP, telemetryBatchSchema } from './telemetry.js';
import { VALIDATOR_DECISION_TYP, validatorDecisionSchema } from './validator-decision.js';

export * from './command-ack.js';
export * from './common.js';
export * from './complaint.js';
export * from './contract.js';
export * from './contract-lifecycle.js';
export * from './deregistration-request.js';
export * from './dispatch-command.js';
export * from './dispatch-response.js';
export * from './dispute.js';
export * from './fulfilment.js';
export * from './gap-note.js';
export * from './gateway-binding.js';
export * from './gateway-status.js';
export * from './hub-status.js';
export * from './market.js';
export * from './meter-proof.js';
export * from './operator-credit.js';
export * from './order.js';
export * from './participant-application.js';
export * from './price.js';
export * from './receipt.js';
export * from './telemetry.js';
export * from './validator-decision.js';

export interface MessageTypeInfo<S extends z.ZodType = z.ZodType> {
  schema: S;
  /** The kind of key that signs it (the kid's prefix). */
  signer: IdKind;
  /** Whether it belongs to its gateway's chain (gw, seq, prev). */
  chained: boolean;
  /** Whether the hub appends it to the ledger. */
  ledger: boolean;
}

function info<S extends z.ZodType>(schema: S, signer: IdKind, chained: boolean, ledger: boolean) {
  return { schema, signer, chained, ledger } satisfies MessageTypeInfo<S>;
}

/** Every signed message type by its JWS typ. */
export const MESSAGE_TYPES = {
  [METER_PROOF_TYP]: info(meterProofSchema, 'gw', true, true),
  [FULFILMENT_TYP]: info(fulfilmentEventSchema, 'gw', true, true),
  [DISPATCH_RESPONSE_TYP]: info(dispatchResponseSchema, 'gw', true, true),
  [TELEMETRY_TYP]: info(telemetryBatchSchema, 'gw', false, false),
  [GATEWAY_STATUS_TYP]: info(gatewayStatusSchema, 'gw', false, false),
  [COMMAND_ACK_TYP]: info(commandAckSchema, 'gw', false, false),
  [CONTRACT_TYP]: info(contractSchema, 'pt', false, true),
  [VALIDATOR_DECISION_TYP]: info(validatorDecisionSchema, 'val', false, true),
  [GATEWAY_BINDING_TYP]: info(gatewayBindingSchema, 'hub', false, true),
  [GAP_NOTE_TYP]: info(gapNoteSchema, 'hub', false, true),
  [DISPATCH_COMMAND_TYP]: info(dispatchCommandSchema, 'hub', false, true),
  [HUB_STATUS_TYP]: info(hubStatusSchema, 'hub', false, false),
  [PRICE_TYP]: info(pricePublicationSchema, 'hub', false, true),
  [ORDER_TYP]: info(orderSchema, 'pt', false, true),
  [PARTICIPANT_APPLICATION_TYP]: info(participantApplicationSchema, 'pt', false, true),
  [CONTRACT_CANCELLATION_TYP]: info(contractCancellationSchema, 'pt', false, true),
  [OPERATOR_CREDIT_TYP]: info(operatorCreditSchema, 'hub', false, true),
  [AUCTION_RESULT_TYP]: info(auctionResultSchema, 'hub', false, true),
  [MARKET_MATCH_TYP]: info(marketMatchSchema, 'hub', false, true),
  [CONTRACT_ACTIVATION_TYP]: info(contractActivationSchema, 'hub', false, true),
  [SETTLEMENT_TYP]: info(settlementSchema, 'hub', false, true),
  [CONTRACT_CLOSE_TYP]: info(contractCloseSchema, 'hub', false, true),
  [DEREGISTRATION_REQUEST_TYP]: info(deregistrationRequestSchema, 'pt', false, true),
  [DISPUTE_TYP]: info(disputeSchema, 'pt', false, true),
  [COMPLAINT_TYP]: info(complaintSchema, 'pt', false, true),
} as const;

export type MessageTyp = keyof typeof MESSAGE_TYPES;
export type PayloadOf<T extends MessageTyp> = z.output<(typeof MESSAGE_TYPES)[T]['schema']>;
export type AnyMessage = { [T in MessageTyp]: { typ: T; payload: PayloadOf<T> } }[MessageTyp];

/** The typs of chained gateway messages (one chain per gateway across all of them). */
export const CHAINED_TYPS: readonly MessageTyp[] = (Object.keys(MESSAGE_TYPES) as MessageTyp[]).filter(
  (t) => MESSAGE_TYPES[t].chained,
);

export function isMessageTyp(typ: string): typ is MessageTyp {
  return Object.hasOwn(MESSAGE_TYPES, typ);
}

/** Validates a payload against the schema of `typ`. */
export function parsePayload<T extends MessageTyp>(typ: T, payload: unknown) {
  return parseWith(MESSAGE_TYPES[typ].schema as unknown as z.ZodType<PayloadOf<T>>, payload);
}

/**
 * Signs a payload as a compact JWS after checking it against its type's schema, so nothing
 * invalid is ever signed. Throws naming each bad field. Signs `payload` as given (not the parsed
 * value, which may have defaults filled in).
 */
export function signMessage<T extends MessageTyp>(
  typ: T,
  kid: string,
  payload: PayloadOf<T>,
  secretKey: Uint8Array,
): string {
  const parsed = parsePayload(typ, payload);
  if (!parsed.ok) throw new Error(`refusing to sign an invalid ${typ}: ${formatIssues(parsed.issues)}`);
  const kind = idKind(kid);
  if (kind !== MESSAGE_TYPES[typ].signer)
    throw new Error(`a ${typ} is signed by a ${MESSAGE_TYPES[typ].signer}- key, not "${kid}"`);
  return signJws(typ, kid, payload, secretKey);
}

export type MessageRejectReason = JwsRejectReason | 'typ-unknown' | 'signer-kind' | 'schema' | 'gw-mismatch';

export type VerifiedMessage = {
  [T in MessageTyp]: {
    ok: true;
    typ: T;
    header: JwsHeader;
    payload: PayloadOf<T>;
    compact: string;
    /** base64url message hash of the compact JWS. */
    hash: string;
  };
}[MessageTyp];

export type MessageCheck =
  | VerifiedMessage
  | { ok: false; reason: MessageRejectReason; detail: string; issues?: ParseIssue[] };

/**
 * Verifies a compact JWS as a Wattproof message: the JWS rules (verifyJws), a known typ, a kid of
 * the kind that signs that typ, the payload's schema, and — for gateway messages — payload.gw
 * equal to the kid.
 */
export function verifyMessage(compact: unknown, opts: VerifyJwsOptions): MessageCheck {
  const v = verifyJws(compact, opts);
  if (!v.ok) return v;
  const typ = v.header.typ;
  if (!isMessageTyp(typ))
    return { ok: false, reason: 'typ-unknown', detail: `"${typ}" is not a Wattproof message type` };
  const t = MESSAGE_TYPES[typ];
  if (idKind(v.header.kid) !== t.signer)
    return {
      ok: false,
      reason: 'signer-kind',
      detail: `a ${typ} is signed by a ${t.signer}- key, not "${v.header.kid}"`,
    };
  const parsed = parsePayload(typ, v.payload);
  if (!parsed.ok)
    return { ok: false, reason: 'schema', detail: formatIssues(parsed.issues), issues: parsed.issues };
  if (t.signer === 'gw') {
    const gw = (parsed.value as { gw: string }).gw;
    if (gw !== v.header.kid)
      return {
        ok: false,
        reason: 'gw-mismatch',
        detail: `payload gw "${gw}" is not the signer "${v.header.kid}"`,
      };
  }
  return {
    ok: true,
    typ,
    header: v.header,
    payload: parsed.value,
    compact: v.compact,
    hash: messageHashB64(v.compact),
  } as VerifiedMessage;
}

/**
 * Whether `next` continues a gateway chain whose last message had hash `prevMsgHash` (base64url)
 * and sequence number `prevSeq` (both null when the chain is empty).
 */
export function continuesChain(
  prevMsgHash: string | null,
  prevSeq: number | null,
  next: ChainFields,
): ChainCheck {
  const head = prevMsgHash === null || prevSeq === null ? undefined : { seq: prevSeq, hash: prevMsgHash };
  return checkChainLink(head, next);
}
