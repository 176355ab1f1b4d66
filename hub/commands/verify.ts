import type { Command } from 'commander';
import { b64url } from '../../protocol/index.js';
import { ExitCode } from '../exit-codes.js';
import type { DecisionsReport } from '../validator/verify-decisions.js';
import { verifyDecisionsFile } from '../verify/verify-decisions-pass.js';
import { verifyLedgerFile } from '../verify/verify-ledger.js';

export function register(program: Command): void {
  program
    .command('verify')
    .description(
      'Check a ledger database: every leaf, the tree, every checkpoint, every signature and gateway chain, and the state folded again (every hub and validator entry must follow from the log); with --policy (and --grid) every validator decision recomputed; name the first entry that does not hold',
    )
    .argument('<ledger>', 'the ledger database file (ledger.db)')
    .option(
      '--log-key <vkey>',
      "pin the log's checkpoint key (C2SP vkey) instead of the one the file records",
    )
    .option(
      '--validator-key <base64url>',
      "a validator's public key to check its decisions with (repeatable; default: the hub's validator.key beside the ledger)",
      (v: string, all: string[] = []) => [...all, v],
    )
    .option(
      '--policy <file>',
      'recompute every validator decision under this validator policy (repeatable: every policy in force over the log)',
      (v: string, all: string[] = []) => [...all, v],
    )
    .option('--grid <file>', 'the grid model file, to recompute congestion decisions (with --policy)')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: VerifyOptions) => {
      let report: ReturnType<typeof verifyLedgerFile> & { decisions?: DecisionsReport };
      try {
        if (opts.grid !== undefined && opts.policy === undefined)
          throw new Error('--grid: recomputing decisions needs the validator policy too (--policy FILE)');
        report = verifyLedgerFile(file, {
          ...(opts.logKey ? { logKey: opts.logKey } : {}),
          ...(opts.validatorKey ? { validatorKeys: opts.validatorKey.map((k) => b64url.decode(k)) } : {}),
          onProgress: (what) => process.stderr.write(`checked ${what}…\n`),
        });
        // The decisions pass runs on a ledger whose entries hold; it names the first decision
        // that does not follow from the log, the policy and the grid model.
        if (report.ok && opts.policy !== undefined) {
          const decisions = await verifyDecisionsFile(file, {
            policyFiles: opts.policy,
            ...(opts.grid !== undefined ? { gridModelFile: opts.grid } : {}),
          });
          report = { ...report, decisions };
          if (!decisions.ok && decisions.failure) {
            const f = decisions.failure;
            report.ok = false;
            report.failure = {
              where: 'entry',
              index: f.index,
              reason: `decision-${f.reason}`,
              detail: `the ${f.kind} decision on ${f.subject} does not follow: ${f.detail}`,
            };
          }
        }
      } catch (err) {
        process.stderr.write(`wattproof-hub verify: ${(err as Error).message}\n`);
        process.exitCode = ExitCode.failure;
        return;
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else if (report.ok) {
        process.stdout.write(
          `ok: ${report.entries} entries, ${report.checkpoints} checkpoints, ${report.gateways} gateways; root ${report.root}\n`,
        );
        if (report.state) {
          const st = report.state;
          process.stdout.write(
            `state: ${st.participants} participants, ${st.contracts} contracts (${st.settled} settled); state hash ${st.hash}\n`,
          );
        }
        const d = report.decisions;
        if (d)
          process.stdout.write(
            `decisions: ${d.checked} recomputed and held, ${d.judgements} judgements, ${d.skipped.length} skipped${d.skipped.length > 0 ? ` (${[...new Set(d.skipped.map((s) => s.reason))].join('; ')})` : ''}\n`,
          );
        for (const w of report.warnings) process.stdout.write(`warning: ${w}\n`);
      } else {
        const f = report.failure;
        const where =
          f?.where === 'entry' && f.index !== undefined ? `entry ${f.index}` : (f?.where ?? 'ledger');
        process.stdout.write(`FAILED at ${where}: ${f?.reason}: ${f?.detail}\n`);
      }
      process.exitCode = report.ok ? ExitCode.ok : ExitCode.failure;
    });
}

interface VerifyOptions {
  logKey?: string;
  validatorKey?: string[];
  policy?: string[];
  grid?: string;
  json?: boolean;
}
