// `npm run test:faults`: runs the fault scenarios in their full versions (WATTPROOF_FULL=1: 100
// agent kills, 60 hub kills, three accelerated hours of dead link), collects what each scenario's
// independent check counted, prints the table and writes it into docs/reliability.md with the
// date and the machine. `--bounded` runs the CI versions instead (quicker, same checks).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, type TableRow } from './checker.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bounded = process.argv.includes('--bounded');
const results = path.join(mkdtempSync(path.join(os.tmpdir(), 'wattproof-faults-')), 'results.jsonl');
const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));

const run = spawnSync('npx', ['vitest', 'run', ...(files.length ? files : ['test/faults/'])], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    WATTPROOF_FAULTS_RESULTS: results,
    ...(bounded ? {} : { WATTPROOF_FULL: '1' }),
  },
});

const rows: TableRow[] = existsSync(results)
  ? readFileSync(results, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as TableRow)
  : [];
const table = formatTable(rows);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const machine = `${os.hostname()}: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}, load ${os
  .loadavg()
  .map((l) => l.toFixed(1))
  .join(' ')}`;
const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
const mode = bounded ? 'bounded (CI) versions' : 'full versions (WATTPROOF_FULL=1)';
console.log(`\n${table}\n\n${when} UTC, ${mode}; ${machine}`);

const doc = path.join(root, 'docs/reliability.md');
// Only a run of every scenario replaces the table in the docs.
if (existsSync(doc) && rows.length > 0 && files.length === 0) {
  const text = readFileSync(doc, 'utf8');
  const block = `<!-- faults-table -->\n${when} UTC, ${mode}, \`npm run test:faults${bounded ? ' -- --bounded' : ''}\`; ${machine}\n\n${table}\n<!-- /faults-table -->`;
  writeFileSync(doc, text.replace(/<!-- faults-table -->[\s\S]*<!-- \/faults-table -->/, block));
}
const bad = rows.some((r) => r.report.lost > 0 || r.report.duplicated > 0);
process.exit(run.status !== 0 || bad ? 1 : 0);
