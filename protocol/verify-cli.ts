#!/usr/bin/env node
// wattproof-verify: the standalone verifier. It depends on protocol/ alone, as a third party's
// verifier would; this entry point is the only place in protocol/ that touches files.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { runVerify } from './verify-command.js';

/** The lines of a file (without "\n"), read 1 MiB at a time: the file's size does not matter. */
function readLines(file: string): Iterable<string> {
  const fd = openSync(file, 'r');
  return (function* () {
    const buf = Buffer.allocUnsafe(1 << 20);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        const text = rest + decoder.write(buf.subarray(0, n));
        const lines = text.split('\n');
        rest = lines.pop() as string;
        yield* lines;
      }
      rest += decoder.end();
      if (rest !== '') yield rest;
    } finally {
      closeSync(fd);
    }
  })();
}

process.exitCode = await runVerify(process.argv.slice(2), {
  readText: (file) => readFileSync(file, 'utf8'),
  readLines,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
