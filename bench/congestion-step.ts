// The engine's congestion step on the IEEE 118-bus grid: what one tick costs when a due interval
// must be decided (beside the decision alone), when entries were appended that change no contract
// (meter proofs, the common case) and when nothing was appended (both beside hashing the
// interval's inputs, which those ticks avoid), and when one more contract flows (a new decision).
// The state is synthetic (contracts and participants written straight into a folded state).
//   npm run bench -- congestion-step               (full: 10,000 contracts; --contracts N to change)
//   npm run bench -- congestion-step --quick
//   CONTRACTS=N node --import tsx bench/congestion-step.ts   (env; the --contracts option wins)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { type ContractRecord, emptyState, type LedgerState } from '../hub/contracts/fold.js';
import { CongestionStep } from '../hub/engine/congestion-step.js';
import {
  canonicalHashB64url,
  congestionInputs,
  decideCongestion,
  type GridModel,
  loadSolver,
  readGridModelFile,
  solverVersion,
} from '../hub/validator/congestion/index.js';
import { nodalCongestionPrices } from '../hub/validator/congestion-prices.js';
import { congestionRequestFromState } from '../hub/validator/congestion-state.js';
import { K, POLICY } from '../hub/validator/fixtures.js';
import { Validator } from '../hub/validator/validator.js';
import {
  benchMode,
  envIntOption,
  fmt,
  intOption,
  median,
  printHeader,
  printNote,
  printTable,
  type ResultRow,
  timeMs,
} from './lib/report.js';

const mode = benchMode();
printHeader(
  "Congestion step: the engine's tick on the IEEE 118-bus grid",
  mode,
  'node --import tsx bench/congestion-step.ts',
);

const CONTRACTS = intOption('contracts', envIntOption('CONTRACTS') ?? (mode.quick ? 50 : 10_000));
const RUNS = mode.quick ? 1 : 5;
/** One untimed run first (full mode): the engine ticks in a long-running, warmed-up process. */
const WARMUP = mode.quick ? 0 : 1;
/** Ticks averaged per figure for the cheap ticks (too short to time one by one). */
const IDLE_TICKS = mode.quick ? 10 : 100_000;
const PROOF_TICKS = mode.quick ? 2 : 20;
const Q = 900_000;
const T = 1_767_225_600_000;
const now = T - 60_000;
const interval = { start: T, end: T + Q };

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const highs = await loadSolver();
printNote(`solver: ${solverVersion(highs)}`);
const gridModel: GridModel = readGridModelFile(path.join(here, 'hub/validator/grids/ieee-118-bus.yaml'));
const congestionPolicy = ((p) => {
  if (p === undefined) throw new Error('the fixture policy has no congestion section');
  return p;
})(POLICY.congestion);
const validator = new Validator({
  secretKey: K.validator.secretKey,
  policy: POLICY,
  currency: 'EUR',
  gridModel,
  highs,
});
const sellers = [...new Set(gridModel.generators.map((g) => g.bus))];
const buyers = [...new Set(gridModel.loads.map((l) => l.bus))];

/** A folded state with `n` active contracts in the interval (same pseudo-random ones each run). */
function syntheticState(n: number): { state: LedgerState; addContract: (i: number) => void } {
  let seed = 20_260_101;
  const rand = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const state: LedgerState = emptyState();
  state.size = 1;
  const addContract = (i: number): void => {
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
  };
  for (let i = 0; i < n; i++) addContract(i);
  return { state, addContract };
}

interface Sample {
  decide: number;
  decisionAlone: number;
  afterDecision: number;
  hashInputs: number;
  idle: number;
  proofs: number;
  newContract: number;
  newDecisionAlone: number;
  facts: string[];
}

function once(): Sample {
  const { state, addContract } = syntheticState(CONTRACTS);
  const step = new CongestionStep({
    validator,
    gridModel,
    highs,
    periodMs: Q,
    leadMs: Q,
    log: pino({ level: process.env['LOG'] ?? 'silent' }),
  });
  const request = () => congestionRequestFromState(state, interval, gridModel, congestionPolicy).request;

  // References on the same state, before the step sees it.
  const req = request();
  const hashInputs = timeMs(() => canonicalHashB64url(congestionInputs(highs, req)));
  const decisionAlone = timeMs(() => decideCongestion(highs, req));

  let first: ReturnType<CongestionStep['next']> = [];
  const decide = timeMs(() => {
    first = step.next(state, now);
  });
  const d = first[0]?.decision;
  if (d === undefined) throw new Error('the first tick decided nothing; the bench expects a decision');
  // The fold records the decision (as appending it would).
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
  const afterDecision = timeMs(() => {
    if (step.next(state, now).length > 0) throw new Error('a tick after the decision decided again');
  });
  const idle =
    timeMs(() => {
      for (let k = 0; k < IDLE_TICKS; k++) step.next(state, now);
    }) / IDLE_TICKS;
  const proofs =
    timeMs(() => {
      for (let k = 0; k < PROOF_TICKS; k++) {
        state.size += 100;
        step.next(state, now);
      }
    }) / PROOF_TICKS;
  addContract(CONTRACTS);
  state.size++;
  const req2 = request();
  const newDecisionAlone = timeMs(() => decideCongestion(highs, req2));
  let again: ReturnType<CongestionStep['next']> = [];
  const newContract = timeMs(() => {
    again = step.next(state, now);
  });
  return {
    decide,
    decisionAlone,
    afterDecision,
    hashInputs,
    idle,
    proofs,
    newContract,
    newDecisionAlone,
    facts: [
      `first decision: outcome ${d.outcome}, ${d.adjustments?.length ?? 0} adjustments, ${first[0]?.compact.length ?? 0} bytes signed; ` +
        `after one more contract: outcome ${again[0]?.decision.outcome ?? 'none'}, ${again[0]?.decision.adjustments?.length ?? 0} adjustments`,
    ],
  };
}

const warm: Sample[] = [];
for (let r = 0; r < WARMUP; r++) warm.push(once());
const runs: Sample[] = [];
for (let r = 0; r < RUNS; r++) runs.push(once());
const m = (k: keyof Omit<Sample, 'facts'>) => median(runs.map((s) => s[k]));
const n = CONTRACTS.toLocaleString('en-US');
const hashRef = `canonical inputs + SHA-256 of the interval's ${n} contracts`;

const rows: ResultRow[] = [
  {
    what: `tick that decides the interval (${n} contracts: request, inputs, LP, sign)`,
    value: m('decide'),
    unit: 'CPU ms/tick',
    runs: RUNS,
    reference: 'the decision alone (decideCongestion of the same request)',
    referenceValue: m('decisionAlone'),
  },
  {
    what: 'tick after the decision (inputs hashed, nothing to do)',
    value: m('afterDecision'),
    unit: 'CPU ms/tick',
    runs: RUNS,
    reference: hashRef,
    referenceValue: m('hashInputs'),
  },
  {
    what: 'tick after 100 entries that change no contract (meter proofs)',
    value: m('proofs'),
    unit: 'CPU ms/tick',
    runs: RUNS,
    reference: hashRef,
    referenceValue: m('hashInputs'),
    note: `mean of ${PROOF_TICKS} ticks per run`,
  },
  {
    what: 'tick with nothing appended',
    value: m('idle'),
    unit: 'CPU ms/tick',
    runs: RUNS,
    reference: hashRef,
    referenceValue: m('hashInputs'),
    note: `mean of ${IDLE_TICKS.toLocaleString('en-US')} ticks per run`,
  },
  {
    what: 'tick after one more contract (a new decision)',
    value: m('newContract'),
    unit: 'CPU ms/tick',
    runs: RUNS,
    reference: 'the decision alone for the same contracts',
    referenceValue: m('newDecisionAlone'),
  },
];
printTable(rows);
for (const f of (runs[0] as Sample).facts) printNote(f);
const w = warm[0];
if (w !== undefined)
  printNote(
    `warm-up run (not counted; a fresh process, JIT cold): deciding tick ${fmt(w.decide)} ms, ` +
      `decision alone ${fmt(w.decisionAlone)} ms`,
  );
printNote(
  `A deciding tick costs ${fmt(m('decide') / m('decisionAlone'))}× the decision alone: the step builds and hashes the ` +
    'inputs once (to compare them with the latest decision) and hands them to the validator, which decides and signs; ' +
    'beyond the decision, the tick reads the request from the state and signs.',
);
