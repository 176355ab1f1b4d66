// The hub's and the parties' entries that move a contract through its lifecycle after review:
// activation (deposits escrowed), cancellation by both parties, settlement (which every verifier
// recomputes from the meter proofs) and closing after the dispute window. docs/contracts.md.
import { z } from 'zod';
import { contractId, hash32, nonNegativeInt, parseWith, participantId, text, utcMs } from './common.js';
import { FULFILMENT_OUTCOMES } from './fulfilment.js';

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
