import { readFileSync } from 'node:fs';

/** The package version, read from package.json in the source tree or beside dist/. */
export function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'wattproof' && pkg.version) return pkg.version;
    } catch {
      // not at this location; try the next
    }
  }
  return '0.0.0-unknown';
}
