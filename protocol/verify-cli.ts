#!/usr/bin/env node
// wattproof-verify: the standalone verifier. It depends on protocol/ alone, as a third party's
// verifier would; this entry point is the only place in protocol/ that touches files.
import { readFileSync } from 'node:fs';
import { runVerify } from './verify-command.js';

process.exitCode = await runVerify(process.argv.slice(2), {
  readText: (file) => readFileSync(file, 'utf8'),
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
