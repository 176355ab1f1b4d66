import path from 'node:path';

/** Which top-level folders each folder may import from (docs: ARCHITECTURE, "Folders"). */
export const allowedImports: Record<string, readonly string[]> = {
  protocol: [],
  'device-drivers': [],
  agent: ['protocol', 'device-drivers'],
  hub: ['protocol'],
};

const specifierPattern =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

export function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(specifierPattern)) out.push((m[1] ?? m[2]) as string);
  return out;
}

export interface ForbiddenImport {
  file: string;
  specifier: string;
  from: string;
  to: string;
}

/** Every import in `files` (absolute path → source) that crosses a boundary the map forbids. */
export function findForbiddenImports(root: string, files: Map<string, string>): ForbiddenImport[] {
  const bad: ForbiddenImport[] = [];
  for (const [file, source] of files) {
    const from = path.relative(root, file).split(path.sep)[0] ?? '';
    const allowed = allowedImports[from];
    if (!allowed) continue;
    for (const specifier of importSpecifiers(source)) {
      if (!specifier.startsWith('.')) continue; // packages and node: builtins
      const target = path.relative(root, path.resolve(path.dirname(file), specifier));
      const to = target.split(path.sep)[0] ?? '';
      if (to === from || to.startsWith('..')) continue;
      if (!allowed.includes(to)) bad.push({ file: path.relative(root, file), specifier, from, to });
    }
  }
  return bad;
}
