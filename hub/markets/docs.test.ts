// docs/markets.md quotes the worked examples' results; this keeps the quotes true by computing
// them again here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  EXAMPLE_T0,
  exampleDispatchCommand,
  exampleFlexibilityContract,
} from '../../protocol/messages/examples.js';
import { clearAuction } from './auction.js';
import { settleFlexibility } from './flexibility.js';

const doc = readFileSync(
  path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'markets.md'),
  'utf8',
);

describe('docs/markets.md worked examples', () => {
  it('the auction example', () => {
    const e = (id: string, side: 'offer' | 'bid', quantity: number, limit: number, index: number) => ({
      id,
      side,
      quantity,
      limit,
      index,
      participant: `pt-${id}`,
    });
    const r = clearAuction([
      e('O1', 'offer', 100, 10, 1),
      e('O2', 'offer', 200, 15, 2),
      e('O3', 'offer', 300, 20, 3),
      e('O4', 'offer', 200, 30, 4),
      e('B1', 'bid', 150, 35, 5),
      e('B2', 'bid', 200, 25, 6),
      e('B3', 'bid', 250, 18, 7),
      e('B4', 'bid', 100, 12, 8),
    ]);
    expect(doc).toContain(`volume ${r.volume} Wh`);
    expect(doc).toContain(`high  min(B2 25, O3 20) = ${r.range?.high}        price ${r.price}`);
    const overlap = clearAuction([
      e('O1', 'offer', 100, 10, 1),
      e('O2', 'offer', 100, 14, 2),
      e('B1', 'bid', 100, 30, 3),
      e('B2', 'bid', 100, 23, 4),
      e('B3', 'bid', 50, 8, 5),
    ]);
    expect(doc).toContain(`the range is [${overlap.range?.low}, ${overlap.range?.high}] and the price`);
    expect(doc).toContain(`14 + floor(9 / 2) = ${overlap.price}.`);
  });

  it('the flexibility example', () => {
    const CT = `ct-${'f'.repeat(42)}A`;
    const at = (m: number) => EXAMPLE_T0 + m * 60_000;
    const d = (setpointW: number, from: number, to: number, response: 'applied' | null, index: number) => ({
      command: {
        ...exampleDispatchCommand(CT),
        setpointW,
        start: at(from),
        end: at(to),
        issuedAt: at(from - 1),
        expires: at(from),
      },
      hash: `d${index}`,
      index,
      response,
    });
    const r = settleFlexibility(
      CT,
      exampleFlexibilityContract(),
      [
        d(2_000, 5, 25, 'applied', 1),
        d(-2_500, 20, 40, 'applied', 2),
        d(3_000, 50, 60, null, 3),
        d(5_000, 45, 50, null, 4),
      ],
      [
        { start: at(0), exportWh: 340, importWh: 0 },
        { start: at(15), exportWh: 150, importWh: 420 },
        { start: at(30), exportWh: 0, importWh: 300 },
      ],
    );
    expect(doc).toContain(`called ${r.calledWh}   delivered ${r.deliveredWh}   shortfall ${r.shortfallWh}`);
    expect(doc).toContain(
      `net to the seller: ${r.availabilityMinor} + ${r.responseMinor} − ${r.penaltyMinor} = ${r.netToSellerMinor}`,
    );
  });
});
