#!/usr/bin/env node
// wattproof-verify: the standalone verifier. It depends on protocol/ alone, as a third party's
// verifier would; this entry point is the only place in protocol/ that touches files.
import { Command } from 'commander';

const program = new Command('wattproof-verify')
  .description(
    'Verify an exported Wattproof ledger without the hub: leaves, tree, checkpoints, signatures, chains',
  )
  .argument('<dir>', 'a folder written by `wattproof-hub export`')
  .action(() => {
    process.stderr.write('wattproof-verify: ledger export verification is not available in this build yet\n');
    process.exitCode = 1;
  });

await program.parseAsync(process.argv);
