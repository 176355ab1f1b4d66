// The folder map of docs/ARCHITECTURE: arrows only point down. agent and hub never import each
// other; protocol and device-drivers import nothing of ours. This test reads every source file's
// import specifiers (static, dynamic and re-exports) and fails on the first forbidden edge.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findForbiddenImports, importSpecifiers } from './support/boundaries.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (/\.(ts|js|mjs|cjs|tsx)$/.test(name)) out.push(full);
  }
  return out;
}

describe('folder boundaries', () => {
  it('finds every kind of import specifier', () => {
    const src = [
      "import a from '../hub/x.js';",
      "import type { B } from '../hub/y.js';",
      "export * from '../hub/z.js';",
      "const c = await import('../hub/w.js');",
      "import '../hub/side-effect.js';",
    ].join('\n');
    expect(importSpecifiers(src)).toEqual([
      '../hub/x.js',
      '../hub/y.js',
      '../hub/z.js',
      '../hub/w.js',
      '../hub/side-effect.js',
    ]);
  });

  it('flags agent → hub, hub → agent, and protocol or device-drivers → anything of ours', () => {
    const files = new Map([
      [path.join(root, 'agent/a.ts'), "import { x } from '../hub/ledger.js';"],
      [path.join(root, 'hub/b.ts'), "import { y } from '../agent/outbox.js';"],
      [path.join(root, 'protocol/c.ts'), "import { z } from '../device-drivers/codec.js';"],
      [path.join(root, 'device-drivers/d.ts'), "import { w } from '../protocol/jws.js';"],
      [path.join(root, 'agent/ok.ts'), "import { v } from '../protocol/jws.js';"],
      [path.join(root, 'test/ok.ts'), "import { u } from '../hub/ledger.js';"],
    ]);
    const bad = findForbiddenImports(root, files);
    expect(bad.map((b) => `${b.from}→${b.to}`)).toEqual([
      'agent→hub',
      'hub→agent',
      'protocol→device-drivers',
      'device-drivers→protocol',
    ]);
  });

  it('holds for every source file in the repository', () => {
    const files = new Map<string, string>();
    for (const folder of ['protocol', 'device-drivers', 'agent', 'hub']) {
      for (const f of sourceFiles(path.join(root, folder))) files.set(f, readFileSync(f, 'utf8'));
    }
    expect(files.size).toBeGreaterThan(0);
    expect(findForbiddenImports(root, files)).toEqual([]);
  });
});
