// Congestion benchmark: the IEEE 118-bus grid with 10 000 contracts in one 15-minute interval.
// Prints the machine, then the time of each step: PTDFs, flows, the minimum-adjustment LP, the
// congestion-price decision, an exact recompute, and the DC-OPF with LMPs.
//
// Run (compiles this script and what it imports into dist/bench-build, then runs it):
//   npx tsc --module nodenext --moduleResolution nodenext --target es2022 --skipLibCheck \
//     --rootDir . --outDir dist/bench-build bench/congestion.ts && node dist/bench-build/bench/congestion.js
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildNetwork,
  type CongestionContract,
  decideCongestion,
  flowsAt,
  loadSolver,
  readGridModelFile,
  solveContractLp,
  solveDcOpf,
  solverVersion,
  verifyDecision,
} from '../hub/validator/congestion/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const here = root.endsWith('bench-build') ? path.resolve(root, '../..') : root;
const gridFile = path.join(here, 'hub/validator/grids/ieee-118-bus.yaml');

function time<T>(label: string, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  console.log(`${label.padEnd(44)} ${(performance.now() - t0).toFixed(1).padStart(9)} ms`);
  return r;
}

const CONTRACTS = Number(process.env['CONTRACTS'] ?? 10_000);
const highs = await loadSolver();
console.log(
  `machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
);
console.log(`node ${process.version}, ${solverVersion(highs)}`);

const model = time('read + check grid model (118 buses, 186 lines)', () => readGridModelFile(gridFile));
const net = time('build B, invert, PTDF (186 × 118)', () => buildNetwork(model));

// Deterministic pseudo-random contracts: sellers at generator buses, buyers at load buses, 5–50 kWh
// per 15 min times SCALE (default 3: 60–600 kW average each, ~3.3 GW in all, against the grid's
// 4.2 GW of load), so that a few lines overload (6 with the defaults).
let seed = 20_260_101;
const rand = () => {
  seed = (seed * 48271) % 2147483647;
  return seed / 2147483647;
};
const sellers = [...new Set(model.generators.map((g) => g.bus))];
const buyers = [...new Set(model.loads.map((l) => l.bus))];
const interval = { start: 1_767_225_600_000, end: 1_767_225_600_000 + 900_000 };
const ms = interval.end - interval.start;
const scale = Number(process.env['SCALE'] ?? 3);
const contracts: CongestionContract[] = Array.from({ length: CONTRACTS }, (_, i) => ({
  id: `ct-${String(i).padStart(6, '0')}`,
  sellerBus: sellers[Math.floor(rand() * sellers.length)] as string,
  buyerBus: buyers[Math.floor(rand() * buyers.length)] as string,
  quantityWh: Math.round((5_000 + rand() * 45_000) * scale),
  priceMinorPerKWh: 5 + Math.floor(rand() * 20),
  class: rand() < 0.5 ? 'solar' : 'battery',
}));
const before = time(`flows of ${CONTRACTS} contracts`, () =>
  flowsAt(
    net,
    contracts,
    contracts.map((c) => c.quantityWh),
    ms,
  ),
);
console.log(`overloaded lines before: ${before.overloads.length}`);

const lp = time('min-adjustment LP alone (build + HiGHS)', () =>
  solveContractLp(highs, {
    net,
    contracts,
    intervalMs: ms,
    costDown: contracts.map((c) => (c.class === 'solar' ? 2 : 1)),
    costUp: contracts.map(() => 1),
    maxDownWh: contracts.map((c) => c.quantityWh),
    maxUpWh: contracts.map(() => 0),
  }),
);
console.log(
  `  ${lp.solution.iterations} simplex iterations, ${lp.rows} rows, ${2 * CONTRACTS + 117} columns`,
);

const policy = { method: 'min-adjustment' as const, weights: { default: 1, byClass: { solar: 2 } } };
const d = time('min-adjustment decision (inputs, LP, rounding)', () =>
  decideCongestion(highs, { gridModel: model, interval, contracts, policy }),
);
console.log(
  `  status ${d.outputs.solverStatus}, ${d.outputs.adjustments.length} contracts adjusted, weighted change ${d.outputs.weightedChangeWh} Wh`,
);
const v = time('verify (recompute + compare)', () => verifyDecision(highs, d));
console.log(`  verify: ${JSON.stringify(v)}`);

const dp = time('congestion-price decision (refusals, LP duals)', () =>
  decideCongestion(highs, {
    gridModel: model,
    interval,
    contracts,
    policy: { method: 'congestion-price', weights: { default: 1 } },
  }),
);
console.log(
  `  ${dp.outputs.refused.length} refused, shadow prices (minor/MWh): ${JSON.stringify(dp.outputs.lineShadowPrices)}`,
);

const opf = time('DC-OPF with LMPs (54 generators)', () => solveDcOpf(highs, model, net));
const lmps = Object.values(opf.lmp);
console.log(
  `  cost ${(opf.costMinorPerHour / 100).toFixed(0)} $/h, LMP range ${(Math.min(...lmps) / 100).toFixed(2)}–${(Math.max(...lmps) / 100).toFixed(2)} $/MWh`,
);
