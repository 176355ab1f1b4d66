// Runs the bench scripts one after another, each in its own Node process (so one's heap, JIT and
// open sockets do not colour the next), and says which failed. `npm run bench` builds first.
//   npm run bench                     all of them, full sizes (≈15 min on 2 cores)
//   npm run bench -- --quick          CI mode: tiny sizes, only checks they still run
//   npm run bench -- ledger modbus    only these
//   npm run bench -- ledger --entries 100000   options after the names go to each script
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchMode, machine, msSince } from './lib/report.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The order they run in; any other bench/*.ts (e.g. congestion.ts) runs after these. */
export const BENCH_ORDER = ['verify', 'ledger', 'modbus', 'ingest-core', 'ingest', 'agent', 'dashboard'];

export function benchScripts(dir = here): string[] {
  const found = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'run.ts')
    .map((f) => f.slice(0, -3));
  const known = BENCH_ORDER.filter((n) => found.includes(n));
  return [...known, ...found.filter((n) => !BENCH_ORDER.includes(n)).sort()];
}

function runOne(name: string, args: readonly string[], timeoutMs: number): Promise<number | string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, `${name}.ts`), ...args], {
      stdio: 'inherit',
    });
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? `signal ${signal}`);
    });
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const mode = benchMode(argv);
  // `--name value` pairs (other than --quick) are options for the scripts; the rest are bench names.
  const names: string[] = [];
  const passOn: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--quick') continue;
    if (a.startsWith('--')) {
      passOn.push(a);
      const v = argv[i + 1];
      if (v !== undefined && !v.startsWith('--')) {
        passOn.push(v);
        i++;
      }
    } else names.push(a);
  }
  const all = benchScripts();
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length > 0) {
    throw new Error(`no bench named ${unknown.join(', ')}; there are: ${all.join(', ')}`);
  }
  const chosen = names.length > 0 ? all.filter((n) => names.includes(n)) : all;
  const m = machine();
  process.stdout.write(
    `# Wattproof benchmarks${mode.quick ? ' (quick)' : ''}\n\n${m.cores} cores, ${m.cpu}, node ${m.node}, ${m.date}\n\n`,
  );
  if (!existsSync(path.join(here, '..', 'dist', 'hub', 'cli.js'))) {
    process.stdout.write('note: dist/ is not built; `npm run bench` builds it (npm run build) first\n\n');
  }
  const failed: string[] = [];
  const started = process.hrtime.bigint();
  for (const name of chosen) {
    const t = process.hrtime.bigint();
    const result = await runOne(
      name,
      [...(mode.quick ? ['--quick'] : []), ...passOn],
      mode.quick ? 120_000 : 12 * 60_000,
    );
    const s = (msSince(t) / 1000).toFixed(1);
    if (result !== 0) failed.push(`${name} (${typeof result === 'number' ? `exit ${result}` : result})`);
    process.stdout.write(`(${name}: ${s} s${result === 0 ? '' : `, FAILED: ${result}`})\n\n`);
  }
  process.stdout.write(`all benches: ${(msSince(started) / 1000).toFixed(1)} s\n`);
  if (failed.length > 0) {
    process.stdout.write(`failed: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
}

// Run only as a script, so a test can import benchScripts.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
