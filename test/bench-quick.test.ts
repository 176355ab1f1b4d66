// Every bench script still runs: each one's --quick mode (tiny sizes) as a child process, as
// `npm run bench` would start it, with its machine heading and a table of numbers (or, for a
// figure whose pieces are not built yet, its "not measured yet" line). The figures themselves are
// not checked here: speed targets belong to the bench output, not to tests.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BENCH_ORDER, benchScripts } from '../bench/run.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function runQuick(name: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'bench', `${name}.ts`), '--quick'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The rows of the first Markdown table in `out` (header and separator excluded). */
function tableRows(out: string): string[][] {
  const lines = out.split('\n');
  const sep = lines.findIndex((l, i) => i > 0 && /^\|[\s:|-]+\|$/.test(l) && lines[i - 1]?.startsWith('|'));
  if (sep === -1) return [];
  const rows: string[][] = [];
  for (const l of lines.slice(sep + 1)) {
    if (!l.startsWith('|')) break;
    rows.push(
      l
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const scripts = benchScripts(path.join(root, 'bench'));

describe('bench scripts run (--quick)', () => {
  it('finds the bench scripts, in order', () => {
    expect(scripts.slice(0, BENCH_ORDER.length)).toEqual(BENCH_ORDER);
    expect(scripts).toEqual(
      expect.arrayContaining(['ingest-core', 'congestion', 'congestion-step', 'engine-fold']),
    );
  });

  describe.concurrent.each(scripts)('%s', (name) => {
    it('prints the machine and a table of numbers', { timeout: 120_000 }, async () => {
      const { code, out } = await runQuick(name);
      expect(code, out).toBe(0);
      expect(out).toMatch(/machine: \d+ cores?, /);
      expect(out).toMatch(/node: v\d+/);
      if (/^not measured yet: /m.test(out)) return;
      const rows = tableRows(out);
      expect(rows.length, out).toBeGreaterThan(0);
      // Every row has a measured number (its median column for our scripts).
      for (const r of rows)
        expect(
          r.some((c) => /^-?[\d,]+(\.\d+)?(e-?\d+)?$/.test(c)),
          r.join(' | '),
        ).toBe(true);
    });
  });
});
