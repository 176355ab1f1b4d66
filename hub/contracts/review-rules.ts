// A simple contract review rule set, enough for contracts to run end to end before the full
// legality review (prices, capacity, congestion) of the validator issue. Pure: the contract, the
// state folded so far and the review time in; reasons out (empty = approve). Each rule's code is
// stable; docs/contracts.md lists them.
import type { Contract, FlexibilityContract, Reason } from '../../protocol/messages/index.js';
import { isApproved, ownerOfGateway } from '../participants/registry.js';
import type { LedgerState } from './fold.js';
import { contractedWhOf } from './settlement.js';

/** ceil(wh × minorPerKWh / 1000): the most a quantity can cost, exactly. */
function maxCost(wh: number, minorPerKWh: number): bigint {
  return (BigInt(wh) * BigInt(minorPerKWh) + 999n) / 1000n;
}

/** The most energy a flexibility contract can call for: its larger power over the window, Wh (up). */
function flexibilityMaxWh(c: FlexibilityContract): bigint {
  const w = BigInt(Math.max(c.maxChargeW, c.maxDischargeW));
  return (w * BigInt(c.window.end - c.window.start) + 3_599_999n) / 3_600_000n;
}

const ceilCost = (wh: bigint, minorPerKWh: number): bigint => (wh * BigInt(minorPerKWh) + 999n) / 1000n;

/** The flexibility rules: the seller's storage power, and deposits on the most energy called for. */
function flexibilityReasons(c: FlexibilityContract, state: LedgerState): Reason[] {
  const reasons: Reason[] = [];
  const seller = state.registry.participants[c.seller];
  if (seller !== undefined)
    for (const [dir, w] of [
      ['discharge', c.maxDischargeW],
      ['charge', c.maxChargeW],
    ] as const)
      if (w > seller.capacityW)
        reasons.push({
          code: 'capacity-exceeded',
          message: `the seller may be called for ${w} W of ${dir}, above its registered capacity of ${seller.capacityW} W`,
        });
  const wh = flexibilityMaxWh(c);
  const penalty = ceilCost(wh, c.penaltyMinorPerKWh);
  if (BigInt(c.deposits.seller) < penalty)
    reasons.push({
      code: 'deposit-below-penalty',
      message: `the seller's deposit ${c.deposits.seller} does not cover the penalty on the most energy that can be called for, ${wh} Wh (${penalty})`,
    });
  const payment = BigInt(c.availabilityMinor) + ceilCost(wh, c.responseMinorPerKWh);
  if (BigInt(c.deposits.buyer) < payment)
    reasons.push({
      code: 'deposit-below-payment',
      message: `the buyer's deposit ${c.deposits.buyer} does not cover availability and response on ${wh} Wh (${payment})`,
    });
  return reasons;
}

export function reviewContract(
  contract: Contract,
  state: LedgerState,
  at: number,
  currency: string,
): Reason[] {
  const reasons: Reason[] = [];
  const reg = state.registry;
  if (contract.seller === contract.buyer)
    reasons.push({ code: 'self-dealing', message: 'the seller and the buyer are the same participant' });
  if (contract.currency !== currency)
    reasons.push({
      code: 'currency-mismatch',
      message: `the ledger keeps ${currency}, not ${contract.currency}`,
    });
  if (at >= contract.window.start)
    reasons.push({ code: 'window-not-future', message: 'the delivery window must start after the review' });
  const period = contract.settlementPeriodMs;
  if (contract.window.start % period !== 0 || contract.window.end % period !== 0)
    reasons.push({
      code: 'window-not-aligned',
      message: `the window is not aligned to its ${period} ms settlement period`,
    });
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
  if (contract.product === 'flexibility') reasons.push(...flexibilityReasons(contract, state));
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
