// The engine's congestion step on the IEEE 118-bus grid: what one tick costs when a due interval
// must be decided, when nothing was appended, when entries were appended that change no contract
// (meter proofs, the common case), and when one more contract flows (a new decision).
// The state is synthetic (contracts and participants written straight into a folded state).
//
// Run: `node --import tsx bench/congestion-step.ts` (CONTRACTS=10000 for the large case), or
// compiled (this script and what it imports into dist/bench-build):
//   npx tsc --module nodenext --moduleResolution nodenext --target es2022 --skipLibCheck \
//     --rootDir . --outDir dist/bench-build bench/congestion-step.ts && \
//     CONTRACTS=1000 node dist/bench-build/bench/congestion-step.js
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { type ContractRecord, emptyState, type LedgerState } from '../hub/contracts/fold.js';
import { CongestionStep } from '../hub/engine/congestion-step.js';
import { loadSolver, readGridModelFile, solverVersion } from '../hub/validator/congestion/index.js';
import { nodalCongestionPrices } from '../hub/validator/congestion-prices.js';
import { K, POLICY } from '../hub/validator/fixtures.js';
import { Validator } from '../hub/validator/validator.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const here = root.endsWith('bench-build') ? path.resolve(root, '../..') : root;
// --quick (the bench tests): a few contracts, to show the script still runs.
const CONTRACTS = Number(process.env['CONTRACTS'] ?? (process.argv.includes('--quick') ? 50 : 1000));
const Q = 900_000;
const T = 1_767_225_600_000;

function time<T>(label: string, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  console.log(`${label.padEnd(58)} ${(performance.now() - t0).toFixed(1).padStart(9)} ms`);
  return r;
}

const highs = await loadSolver();
console.log(
  `machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length}; node ${process.version}, ${solverVersion(highs)}`,
);
const gridModel = readGridModelFile(path.join(here, 'hub/validator/grids/ieee-118-bus.yaml'));
const validator = new Validator({
  secretKey: K.validator.secretKey,
  policy: POLICY,
  currency: 'EUR',
  gridModel,
  highs,
});
const step = new CongestionStep({
  validator,
  gridModel,
  highs,
  periodMs: Q,
  leadMs: Q,
  log: pino({ level: process.env['LOG'] ?? 'silent' }),
});

let seed = 20_260_101;
const rand = () => {
  seed = (seed * 48271) % 2147483647;
  return seed / 2147483647;
};
const sellers = [...new Set(gridModel.generators.map((g) => g.bus))];
const buyers = [...new Set(gridModel.loads.map((l) => l.bus))];
const state: LedgerState = emptyState();
state.size = 1;
function addContract(i: number): void {
  const seller = `pt-s${i}`;
  const buyer = `pt-b${i}`;
  // Only the fields the congestion request reads; a real fold fills the rest.
  state.registry.participants[seller] = { gridNode: sellers[Math.floor(rand() * sellers.length)] } as never;
  state.registry.participants[buyer] = { gridNode: buyers[Math.floor(rand() * buyers.length)] } as never;
  const id = `ct-${String(i).padEnd(43, 'A')}`;
  state.contracts[id] = {
    id,
    status: 'active',
    stop: null,
    history: [],
    contract: {
      product: 'energy',
      energy: 'electricity',
      seller,
      buyer,
      settlementPeriodMs: Q,
      window: { start: T, end: T + Q },
      quantity: { wh: Math.round((5_000 + rand() * 45_000) * 3), per: 'interval' },
      priceMinorPerKWh: 5 + Math.floor(rand() * 20),
    },
  } as unknown as ContractRecord;
}
for (let i = 0; i < CONTRACTS; i++) addContract(i);
console.log(`${CONTRACTS} contracts in one due interval`);

const now = T - 60_000;
const first = time('tick that decides the interval (inputs, LP, sign)', () => step.next(state, now));
console.log(
  `  outcome ${first[0]?.decision.outcome}, ${first[0]?.decision.adjustments?.length ?? 0} adjustments`,
);
// The fold records the decision (as appending it would).
const d = first[0]?.decision;
if (d) {
  state.congestion.push({
    index: state.size,
    subject: d.subject,
    interval: d.interval ?? null,
    outcome: d.outcome,
    inputsHash: d.inputsHash,
    adjustments: d.adjustments ?? [],
    nodalPrices: nodalCongestionPrices(d.reasons),
  });
  state.size++;
}
time('tick after the decision (inputs hashed, nothing to do)', () => step.next(state, now));
time('tick with nothing appended', () => step.next(state, now));
state.size += 100;
time('tick after 100 entries that change no contract', () => step.next(state, now));
addContract(CONTRACTS);
state.size++;
time('tick after one more contract (a new decision)', () => step.next(state, now));
