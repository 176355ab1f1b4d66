// Bundles the dashboard's browser app (hub/web/client, with the protocol code it verifies with and
// uPlot) into one ES module, and copies the styles beside it. `npm run build:web` runs this after
// tsc; tests call buildDashboardClient(tempDir) so they always serve the code they test.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root, from hub/web (source) or dist/hub/web (built). */
function repoRoot(): string {
  const up2 = path.resolve(here, '..', '..');
  return path.basename(up2) === 'dist' ? path.resolve(up2, '..') : up2;
}

export async function buildDashboardClient(outDir: string, opts: { minify?: boolean } = {}): Promise<void> {
  const root = repoRoot();
  // esbuild is a devDependency: needed to build, never to run the hub.
  const esbuild = await import('esbuild');
  mkdirSync(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(root, 'hub/web/client/main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: opts.minify ?? true,
    sourcemap: true,
    outfile: path.join(outDir, 'app.js'),
    logLevel: 'warning',
    legalComments: 'linked',
  });
  const require = createRequire(path.join(root, 'package.json'));
  copyFileSync(require.resolve('uplot/dist/uPlot.min.css'), path.join(outDir, 'uplot.css'));
  copyFileSync(path.join(root, 'hub/web/client/app.css'), path.join(outDir, 'app.css'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ?? path.join(repoRoot(), 'dist/hub/web/public');
  buildDashboardClient(out).then(
    () => process.stdout.write(`dashboard client built into ${out}\n`),
    (err: unknown) => {
      process.stderr.write(`build:web failed: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
