// Congestion on the IEEE 118-bus grid (hub/validator/grids/) with 10,000 contracts in one 15-minute
// interval, solved with HiGHS: the network's PTDFs, the contracts' line flows, the
// minimum-adjustment LP (beside a DC power flow of the same contracts), the whole decision (beside
// the time HiGHS itself spends in it: the method's floor), its recompute as `verify` does it, the
// congestion-price decision and the DC-OPF with LMPs.
//   npm run bench -- congestion                    (full: 10,000 contracts; --contracts N to change)
//   npm run bench -- congestion --quick
//   CONTRACTS=N, SCALE=S node --import tsx bench/congestion.ts   (env: contracts, kWh scale; the
//   --contracts option wins over CONTRACTS)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildNetwork,
  type CongestionContract,
  decideCongestion,
  flowsAt,
  type Highs,
  loadSolver,
  readGridModelFile,
  solveContractLp,
  solveDcOpf,
  solverVersion,
  verifyDecision,
} from '../hub/validator/congestion/index.js';
import {
  benchMode,
  clockMs,
  envIntOption,
  fmt,
  intOption,
  median,
  printHeader,
  printNote,
  printTable,
  type ResultRow,
} from './lib/report.js';

const mode = benchMode();
printHeader(
  'Congestion: IEEE 118-bus grid, minimum adjustment with HiGHS',
  mode,
  'node --import tsx bench/congestion.ts',
);

const CONTRACTS = intOption('contracts', envIntOption('CONTRACTS') ?? (mode.quick ? 200 : 10_000));
/** kWh scale of each contract (3: 60–600 kW average each, ~3.3 GW in all at 10,000 contracts). */
const SCALE = envIntOption('SCALE') ?? 3;
const RUNS = mode.quick ? 1 : 5;
/** One untimed run first (full mode): the engine decides in a long-running, warmed-up process. */
const WARMUP = mode.quick ? 0 : 1;

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gridFile = path.join(here, 'hub/validator/grids/ieee-118-bus.yaml');

// HiGHS behind a proxy that adds up the CPU time spent inside it (model load, simplex, solution
// read-back: every LP goes through withModel), so a decision is compared with its own solve.
const solver = await loadSolver();
let inHighsMs = 0;
const highs = new Proxy(solver, {
  get(target, prop) {
    if (prop === 'withModel') {
      return (...args: unknown[]) => {
        const t = clockMs('cpu');
        try {
          return (target.withModel as (...a: unknown[]) => unknown)(...args);
        } finally {
          inHighsMs += clockMs('cpu') - t;
        }
      };
    }
    const v: unknown = Reflect.get(target, prop, target);
    return typeof v === 'function' ? v.bind(target) : v;
  },
}) as Highs;
printNote(`solver: ${solverVersion(highs)}`);

/** CPU ms of `f`, and the CPU ms HiGHS spent inside it. */
function timed<T>(f: () => T): { value: T; ms: number; highsMs: number } {
  const h = inHighsMs;
  const t = clockMs('cpu');
  const value = f();
  return { value, ms: clockMs('cpu') - t, highsMs: inHighsMs - h };
}

// Deterministic pseudo-random contracts: sellers at generator buses, buyers at load buses, 5–50 kWh
// per 15 min times SCALE, against the grid's 4.2 GW of load, so that a few lines overload (6 with
// the defaults).
function makeContracts(model: ReturnType<typeof readGridModelFile>): CongestionContract[] {
  let seed = 20_260_101;
  const rand = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const sellers = [...new Set(model.generators.map((g) => g.bus))];
  const buyers = [...new Set(model.loads.map((l) => l.bus))];
  return Array.from({ length: CONTRACTS }, (_, i) => ({
    id: `ct-${String(i).padStart(6, '0')}`,
    sellerBus: sellers[Math.floor(rand() * sellers.length)] as string,
    buyerBus: buyers[Math.floor(rand() * buyers.length)] as string,
    quantityWh: Math.round((5_000 + rand() * 45_000) * SCALE),
    priceMinorPerKWh: 5 + Math.floor(rand() * 20),
    class: rand() < 0.5 ? 'solar' : 'battery',
  }));
}

const interval = { start: 1_767_225_600_000, end: 1_767_225_600_000 + 900_000 };
const intervalMs = interval.end - interval.start;

interface Sample {
  readModel: number;
  ptdf: number;
  flows: number;
  lp: number;
  lpHighs: number;
  decision: number;
  decisionHighs: number;
  verify: number;
  price: number;
  priceHighs: number;
  opf: number;
  opfHighs: number;
  facts: string[];
}

function once(): Sample {
  const model = timed(() => readGridModelFile(gridFile));
  const net = timed(() => buildNetwork(model.value));
  const contracts = makeContracts(model.value);
  const before = timed(() =>
    flowsAt(
      net.value,
      contracts,
      contracts.map((c) => c.quantityWh),
      intervalMs,
    ),
  );
  const lp = timed(() =>
    solveContractLp(highs, {
      net: net.value,
      contracts,
      intervalMs,
      costDown: contracts.map((c) => (c.class === 'solar' ? 2 : 1)),
      costUp: contracts.map(() => 1),
      maxDownWh: contracts.map((c) => c.quantityWh),
      maxUpWh: contracts.map(() => 0),
    }),
  );
  const policy = { method: 'min-adjustment' as const, weights: { default: 1, byClass: { solar: 2 } } };
  const d = timed(() => decideCongestion(highs, { gridModel: model.value, interval, contracts, policy }));
  const v = timed(() => verifyDecision(highs, d.value));
  if (!v.value.ok) throw new Error(`verify of the decision failed: ${v.value.reason}`);
  const dp = timed(() =>
    decideCongestion(highs, {
      gridModel: model.value,
      interval,
      contracts,
      policy: { method: 'congestion-price', weights: { default: 1 } },
    }),
  );
  const opf = timed(() => solveDcOpf(highs, model.value, net.value));
  const lmps = Object.values(opf.value.lmp);
  const s = lp.value.solution;
  return {
    readModel: model.ms,
    ptdf: net.ms,
    flows: before.ms,
    lp: lp.ms,
    lpHighs: lp.highsMs,
    decision: d.ms,
    decisionHighs: d.highsMs,
    verify: v.ms,
    price: dp.ms,
    priceHighs: dp.highsMs,
    opf: opf.ms,
    opfHighs: opf.highsMs,
    facts: [
      `grid: ${model.value.buses.length} buses, ${model.value.lines.length} lines, ${model.value.generators.length} generators; ` +
        `${CONTRACTS.toLocaleString('en-US')} contracts (SCALE ${SCALE}) overload ${before.value.overloads.length} lines`,
      `minimum-adjustment LP: ${s.status}, ${s.iterations} simplex iterations, ${lp.value.rows} rows, ` +
        `${(2 * CONTRACTS + net.value.busIds.length - 1).toLocaleString('en-US')} columns`,
      `minimum-adjustment decision: status ${d.value.outputs.solverStatus}, ${d.value.outputs.adjustments.length} contracts adjusted, ` +
        `weighted change ${d.value.outputs.weightedChangeWh.toLocaleString('en-US')} Wh; verify: ${JSON.stringify(v.value)}`,
      `congestion-price decision: ${dp.value.outputs.refused.length} refused, shadow prices (minor/MWh): ${JSON.stringify(dp.value.outputs.lineShadowPrices)}`,
      `DC-OPF: ${opf.value.status}, cost ${(opf.value.costMinorPerHour / 100).toFixed(0)} $/h, LMP range ` +
        `${(Math.min(...lmps) / 100).toFixed(2)}–${(Math.max(...lmps) / 100).toFixed(2)} $/MWh`,
    ],
  };
}

const warm: Sample[] = [];
for (let r = 0; r < WARMUP; r++) warm.push(once());
const runs: Sample[] = [];
for (let r = 0; r < RUNS; r++) runs.push(once());
const m = (k: keyof Omit<Sample, 'facts'>) => median(runs.map((s) => s[k]));
const n = CONTRACTS.toLocaleString('en-US');

const rows: ResultRow[] = [
  { what: 'read + check the grid model (YAML)', value: m('readModel'), unit: 'CPU ms', runs: RUNS },
  { what: 'build B, invert, PTDF (186 lines × 118 buses)', value: m('ptdf'), unit: 'CPU ms', runs: RUNS },
  { what: `line flows of ${n} contracts (DC power flow)`, value: m('flows'), unit: 'CPU ms', runs: RUNS },
  {
    what: 'minimum-adjustment LP alone (model build + HiGHS)',
    value: m('lp'),
    unit: 'CPU ms',
    runs: RUNS,
    reference: `DC power flow of the same ${n} contracts`,
    referenceValue: m('flows'),
  },
  {
    what: 'minimum-adjustment decision (canonical inputs, hash, checks, LP, rounding)',
    value: m('decision'),
    unit: 'CPU ms',
    runs: RUNS,
    reference: 'the HiGHS solve inside it (model load, simplex, solution)',
    referenceValue: m('decisionHighs'),
  },
  {
    what: 'verify: recompute the decision and compare',
    value: m('verify'),
    unit: 'CPU ms',
    runs: RUNS,
    reference: 'making the decision',
    referenceValue: m('decision'),
  },
  {
    what: 'congestion-price decision (refusals, LP duals)',
    value: m('price'),
    unit: 'CPU ms',
    runs: RUNS,
    reference: 'the HiGHS solve inside it',
    referenceValue: m('priceHighs'),
  },
  {
    what: 'DC-OPF with LMPs (54 generators)',
    value: m('opf'),
    unit: 'CPU ms',
    runs: RUNS,
    reference: 'the HiGHS solve inside it',
    referenceValue: m('opfHighs'),
  },
];
printTable(rows);
for (const f of (runs[0] as Sample).facts) printNote(f);
printNote(`of the LP alone, HiGHS takes ${fmt(m('lpHighs'))} ms; the rest builds the sparse model in JS`);
const first = warm[0];
if (first !== undefined)
  printNote(
    `warm-up run (not counted; a fresh process, JIT cold): LP ${fmt(first.lp)} ms, decision ${fmt(first.decision)} ms, ` +
      `verify ${fmt(first.verify)} ms, congestion price ${fmt(first.price)} ms`,
  );
const share = m('decisionHighs') / m('decision');
if (share === 0) printNote('no line is overloaded at this size, so the decisions solve no LP.');
else
  printNote(
    `HiGHS takes ${fmt(100 * share)} % of the minimum-adjustment decision; the rest is canonical JSON, SHA-256, ` +
      `schema checks and model building of the ${n} contracts` +
      (share < 0.5 ? ': the solver is not the bottleneck.' : ': the solver is the bottleneck.'),
  );
