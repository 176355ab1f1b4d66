// Dashboard: time to render and filter a fleet of 10,000 gateways in Chromium (issue 13, item 6).
// The dashboard is still being built; until the hub serves it, this script says what is missing.
//   npm run bench -- dashboard
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchMode, notMeasuredYet, printHeader } from './lib/report.js';

const mode = benchMode();
printHeader(
  'Dashboard: render and filter 10,000 gateways in Chromium',
  mode,
  'node --import tsx bench/dashboard.ts',
);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const missing: string[] = [];
const hubRoot = readFileSync(path.join(root, 'hub/hub.ts'), 'utf8');
if (!hubRoot.includes('registerDashboard'))
  missing.push('the hub does not serve the dashboard yet (hub/hub.ts)');
if (!existsSync('/usr/bin/chromium')) missing.push('no Chromium at /usr/bin/chromium');
try {
  createRequire(import.meta.url).resolve('playwright-core');
} catch {
  missing.push('playwright-core is not installed');
}
notMeasuredYet(
  'fleet render and filter time',
  missing.length > 0 ? missing.join('; ') : 'the dashboard has landed; this bench does not drive it yet',
);
