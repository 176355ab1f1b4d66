// Ledger entry payloads the contracts fold needs and protocol/messages does not (yet) define:
// participant applications, operator credits, contract activation, cancellation, settlement and
// closing. Each is a compact JWS leaf like every other entry. They live here until they move to
// protocol/messages (see docs/contracts.md, "Entry types"); their typs are final.
import { z } from 'zod';
import { b64url, idMatchesKey } from '../../protocol/index.js';
import {
  contractId,
  currency,
  energyType,
  FULFILMENT_OUTCOMES,
  gatewayId,
  hash32,
  name,
  nonNegativeInt,
  parseWith,
  participantId,
  positiveInt,
  publicKey32,
  type RuleIssue,
  sortedUniqueRules,
  text,
  utcMs,
  withRules,
} from '../../protocol/messages/index.js';

// ---------------------------------------------------------------------------------------------
// Participant application (signed by the participant's own key, kid = participant)

export const PARTICIPANT_APPLICATION_TYP = 'wattproof.participant-application.v1';

export const PARTICIPANT_ROLES = ['household', 'producer', 'utility', 'storage'] as const;
export const participantRole = z.enum(PARTICIPANT_ROLES);
export type ParticipantRole = z.infer<typeof participantRole>;

const applicationStructure = z.strictObject({
  participant: participantId,
  /** The participant's raw Ed25519 public key; `participant` is the id derived from it. */
  publicKey: publicKey32,
  role: participantRole,
  /** The energy carriers the participant asks to trade, sorted, unique. */
  energies: z.array(energyType).min(1, 'must name at least one energy type').max(3),
  /** The grid region and the node (bus) the participant is connected at. */
  region: name,
  gridNode: name,
  /** The gateways that meter this participant, sorted, unique. */
  gateways: z.array(gatewayId).max(100),
  /** Largest power the connection can export or import, W (the validator checks quantities). */
  capacityW: nonNegativeInt,
  at: utcMs,
});

export const participantApplicationSchema = withRules(applicationStructure, (v) => {
  const out: RuleIssue[] = [
    ...sortedUniqueRules(v.energies, ['energies']),
    ...sortedUniqueRules(v.gateways, ['gateways']),
  ];
  if (!idMatchesKey(v.participant, b64url.decode(v.publicKey)))
    out.push({ path: ['participant'], message: 'is not the participant id derived from publicKey' });
  return out;
});
export type ParticipantApplication = z.output<typeof participantApplicationSchema>;

// ---------------------------------------------------------------------------------------------
// Operator credit (hub-signed): money entering an account, standing in for a bank transfer.

export const OPERATOR_CREDIT_TYP = 'wattproof.operator-credit.v1';

export const operatorCreditSchema = z.strictObject({
  account: participantId,
  amountMinor: positiveInt,
  currency,
  /** The bank transfer (or other) reference the credit rests on. */
  reference: text(128),
  at: utcMs,
});
export type OperatorCredit = z.output<typeof operatorCreditSchema>;

// ---------------------------------------------------------------------------------------------
// Contract activation (hub-signed): both deposits move into escrow.

export const CONTRACT_ACTIVATION_TYP = 'wattproof.contract-activation.v1';

export const contractActivationSchema = z.strictObject({ contract: contractId, at: utcMs });
export type ContractActivation = z.output<typeof contractActivationSchema>;

// ---------------------------------------------------------------------------------------------
// Cancellation (signed by one party, kid = party). Both parties' cancellations cancel the contract.

export const CONTRACT_CANCELLATION_TYP = 'wattproof.contract-cancellation.v1';

export const contractCancellationSchema = z.strictObject({
  contract: contractId,
  party: participantId,
  reason: text(500).optional(),
  at: utcMs,
});
export type ContractCancellation = z.output<typeof contractCancellationSchema>;

// ---------------------------------------------------------------------------------------------
// Settlement (hub-signed): the result the hub computed; the fold recomputes it and compares.

export const SETTLEMENT_TYP = 'wattproof.settlement.v1';

export const settlementSchema = z.strictObject({
  contract: contractId,
  outcome: z.enum(FULFILMENT_OUTCOMES),
  /** What the seller owed over the window, Wh. */
  contractedWh: nonNegativeInt,
  /** Counted export of the seller's delivery points, counted import of the buyer's, in the window. */
  sellerExportWh: nonNegativeInt,
  buyerImportWh: nonNegativeInt,
  /** min(seller, buyer) per interval, bounded by the contract; shortfall = contracted − delivered. */
  deliveredWh: nonNegativeInt,
  shortfallWh: nonNegativeInt,
  /** Buyer → seller for what was delivered (floor of price × Wh / 1000). */
  paymentMinor: nonNegativeInt,
  /** Seller → buyer for the shortfall, capped by the seller's deposit. */
  penaltyMinor: nonNegativeInt,
  /** Payment the buyer's deposit and balance could not cover (recorded as a debt, never negative). */
  unpaidMinor: nonNegativeInt,
  /** Escrow returned to each party after payment and penalty. */
  released: z.strictObject({ seller: nonNegativeInt, buyer: nonNegativeInt }),
  /** How many meter proofs the settlement rests on, and SHA-256 over their sorted hashes. */
  proofCount: nonNegativeInt,
  proofsHash: hash32,
  at: utcMs,
});
export type SettlementPayload = z.output<typeof settlementSchema>;

// ---------------------------------------------------------------------------------------------
// Closing (hub-signed): after the dispute window, nothing more can change the contract.

export const CONTRACT_CLOSE_TYP = 'wattproof.contract-close.v1';

export const contractCloseSchema = z.strictObject({ contract: contractId, at: utcMs });
export type ContractClose = z.output<typeof contractCloseSchema>;

// ---------------------------------------------------------------------------------------------

/** Entry types defined here, with the kind of key that signs each. */
export const CONTRACT_ENTRY_TYPES = {
  [PARTICIPANT_APPLICATION_TYP]: { schema: participantApplicationSchema, signer: 'pt' },
  [OPERATOR_CREDIT_TYP]: { schema: operatorCreditSchema, signer: 'hub' },
  [CONTRACT_ACTIVATION_TYP]: { schema: contractActivationSchema, signer: 'hub' },
  [CONTRACT_CANCELLATION_TYP]: { schema: contractCancellationSchema, signer: 'pt' },
  [SETTLEMENT_TYP]: { schema: settlementSchema, signer: 'hub' },
  [CONTRACT_CLOSE_TYP]: { schema: contractCloseSchema, signer: 'hub' },
} as const;

export function parseParticipantApplication(payload: unknown) {
  return parseWith(participantApplicationSchema, payload);
}
export function parseOperatorCredit(payload: unknown) {
  return parseWith(operatorCreditSchema, payload);
}
export function parseContractActivation(payload: unknown) {
  return parseWith(contractActivationSchema, payload);
}
export function parseContractCancellation(payload: unknown) {
  return parseWith(contractCancellationSchema, payload);
}
export function parseSettlement(payload: unknown) {
  return parseWith(settlementSchema, payload);
}
export function parseContractClose(payload: unknown) {
  return parseWith(contractCloseSchema, payload);
}
