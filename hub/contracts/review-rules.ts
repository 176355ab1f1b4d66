// A simple contract review rule set, enough for contracts to run end to end before the full
// legality review (prices, capacity, congestion) of the validator issue. Pure: the contract, the
// state folded so far and the review time in; reasons out (empty = approve). Each rule's code is
// stable; docs/contracts.md lists them.
import type { Contract, Reason } from '../../protocol/messages/index.js';
import { isApproved, ownerOfGateway } from '../participants/registry.js';
import type { LedgerState } from './fold.js';
import { contractedWhOf } from './settlement.js';

/** ceil(wh × minorPerKWh / 1000): the most a quantity can cost, exactly. */
function maxCost(wh: number, minorPerKWh: number): bigint {
  return (BigInt(wh) * BigInt(minorPerKWh) + 999n) / 1000n;
}

export function reviewContract(
  contract: Contract,
  state: LedgerState,
  at: number,
  currency: string,
): Reason[] {
  const reasons: Reason[] = [];
  const reg = state.registry;
  if (contract.product !== 'energy')
    reasons.push({
      code: 'product-not-supported',
      message: `${contract.product} contracts are not settled yet`,
    });
  if (contract.seller === contract.buyer)
    reasons.push({ code: 'self-dealing', message: 'the seller and the buyer are the same participant' });
  if (contract.currency !== currency)
    reasons.push({
      code: 'currency-mismatch',
      message: `the ledger keeps ${currency}, not ${contract.currency}`,
    });
  if (at >= contract.window.start)
    reasons.push({ code: 'window-not-future', message: 'the delivery window must start after the review' });
  for (const side of ['seller', 'buyer'] as const) {
    const party = contract[side];
    if (!isApproved(reg, party)) {
      reasons.push({
        code: 'party-not-registered',
        message: `the ${side} ${party} is not a registered participant`,
      });
      continue;
    }
    for (const dp of contract.deliveryPoints[side])
      if (ownerOfGateway(reg, dp.gw) !== party)
        reasons.push({
          code: 'delivery-point-not-party',
          message: `${dp.gw} is not a gateway registered to the ${side}`,
        });
  }
  const seller = reg.participants[contract.seller];
  if (seller !== undefined && !seller.energies.includes(contract.energy))
    reasons.push({
      code: 'energy-not-allowed',
      message: `the seller is not registered to trade ${contract.energy}`,
    });
  if (contract.product === 'energy') {
    const wh = contractedWhOf(contract);
    if (BigInt(contract.deposits.seller) < maxCost(wh, contract.penaltyMinorPerKWh))
      reasons.push({
        code: 'deposit-below-penalty',
        message: `the seller's deposit ${contract.deposits.seller} does not cover the penalty for a full shortfall (${maxCost(wh, contract.penaltyMinorPerKWh)})`,
      });
    if (BigInt(contract.deposits.buyer) < maxCost(wh, contract.priceMinorPerKWh))
      reasons.push({
        code: 'deposit-below-payment',
        message: `the buyer's deposit ${contract.deposits.buyer} does not cover full delivery (${maxCost(wh, contract.priceMinorPerKWh)})`,
      });
  }
  return reasons;
}
