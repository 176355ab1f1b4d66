// What every bench script shares: its command-line mode, the machine it ran on, medians over
// repeated runs, and one table format (Markdown, so docs/benchmarks.md can take it as printed).
import os from 'node:os';

export interface BenchMode {
  /** CI mode: tiny sizes, one or two runs; only checks the script still runs. */
  quick: boolean;
}

/** `--quick` anywhere on the command line selects CI mode. */
export function benchMode(argv: readonly string[] = process.argv.slice(2)): BenchMode {
  return { quick: argv.includes('--quick') };
}

/** The value after `--name` (e.g. `--gateways 10000`), as a positive integer, or `fallback`. */
export function intOption(
  name: string,
  fallback: number,
  argv: readonly string[] = process.argv.slice(2),
): number {
  const i = argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const v = Number(argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new Error(`--${name} needs a positive integer, got ${JSON.stringify(argv[i + 1])}`);
  }
  return v;
}

/** An environment variable as a positive integer (e.g. CONTRACTS=10000), or undefined when unset. */
export function envIntOption(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} needs a positive integer, got "${raw}"`);
  return v;
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  platform: string;
  memoryGiB: number;
  date: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    date: new Date().toISOString(),
  };
}

/** The heading every script prints first: what it measures and where. */
export function printHeader(title: string, mode: BenchMode, command: string): void {
  const m = machine();
  const lines = [
    `## ${title}${mode.quick ? ' (quick mode: sizes too small to mean anything)' : ''}`,
    '',
    `machine: ${m.cores} cores, ${m.cpu}, ${m.memoryGiB} GiB, ${m.platform}`,
    `node: ${m.node}`,
    `date: ${m.date}`,
    `load average at start: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (CPU-bound figures are timed in this process's CPU time, those that wait in wall time)`,
    `command: ${command}${mode.quick ? ' --quick' : ''}`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The q-quantile (0..1) by nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new RangeError('quantile of no values');
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[rank] as number;
}

/** Milliseconds since `start` (a process.hrtime.bigint() value): wall time. */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * What a duration is measured in. `cpu` is this process's CPU time (user + system): for CPU-bound
 * work on one thread it is the time the work needs on one core, whatever else runs on the machine.
 * `wall` is elapsed time, for anything that waits (fsync, sockets, other processes).
 */
export type Clock = 'cpu' | 'wall';

/** The current reading of `clock`, in ms. */
export function clockMs(clock: Clock): number {
  if (clock === 'wall') return Number(process.hrtime.bigint()) / 1e6;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs `fn` and returns the ms it took on `clock` (default: CPU time). */
export function timeMs(fn: () => void, clock: Clock = 'cpu'): number {
  const t = clockMs(clock);
  fn();
  return clockMs(clock) - t;
}

export async function timeMsAsync(fn: () => Promise<unknown>, clock: Clock = 'wall'): Promise<number> {
  const t = clockMs(clock);
  await fn();
  return clockMs(clock) - t;
}

/**
 * Operations per second of `op` (per CPU-second by default), measured over batches of `batch`
 * calls for at least `minMs`, `runs` times (after one warm-up run); the median run counts.
 */
export function opsPerSecond(
  op: (i: number) => void,
  opts: { batch: number; minMs: number; runs: number; clock?: Clock },
): number {
  const clock = opts.clock ?? 'cpu';
  const rates: number[] = [];
  for (let r = 0; r <= opts.runs; r++) {
    let n = 0;
    const t = clockMs(clock);
    let elapsed = 0;
    do {
      for (let i = 0; i < opts.batch; i++) op(n + i);
      n += opts.batch;
      elapsed = clockMs(clock) - t;
    } while (elapsed < opts.minMs);
    if (r > 0) rates.push((n / elapsed) * 1000);
  }
  return median(rates);
}

/** One row of a result table: a measured figure beside its reference from the same run. */
export interface ResultRow {
  what: string;
  value: number;
  unit: string;
  runs: number;
  /** What the value is compared with (measured in this run), if anything. */
  reference?: string;
  referenceValue?: number;
  /** value / referenceValue unless given (e.g. when lower is better and the ratio is inverted). */
  ratio?: number;
  note?: string;
}

/** Formats a number with a sensible number of significant digits. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  if (a === 0) return '0';
  return n.toPrecision(2);
}

export const TABLE_HEADER =
  '| what | median | unit | runs | reference (same run) | reference median | ratio |';

/** Prints rows as a Markdown table (the header is TABLE_HEADER, which the quick test looks for). */
export function printTable(rows: readonly ResultRow[]): void {
  const out = [TABLE_HEADER, '|---|---:|---|---:|---|---:|---:|'];
  for (const r of rows) {
    const ratio =
      r.ratio ??
      (r.referenceValue !== undefined && r.referenceValue !== 0 ? r.value / r.referenceValue : undefined);
    out.push(
      `| ${r.what} | ${fmt(r.value)} | ${r.unit} | ${r.runs} | ${r.reference ?? '—'} | ${
        r.referenceValue !== undefined ? fmt(r.referenceValue) : '—'
      } | ${ratio !== undefined && Number.isFinite(ratio) ? `${fmt(ratio)}×` : '—'} |`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
  const notes = rows.filter((r) => r.note);
  if (notes.length > 0) {
    process.stdout.write(`\n${notes.map((r) => `- ${r.what}: ${r.note}`).join('\n')}\n`);
  }
  process.stdout.write('\n');
}

/** A line under the table: a conclusion drawn from the figures, or why something was not measured. */
export function printNote(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Prints `not measured yet: <why>` (the pieces a figure needs are not there yet). */
export function notMeasuredYet(what: string, why: string): void {
  process.stdout.write(`not measured yet: ${what}: ${why}\n`);
}
