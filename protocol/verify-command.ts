// The `wattproof-verify` command, apart from the process: it reads files through `io.readText`
// and writes through `io.out`/`io.err`, so tests run it in-process on real files in a temp dir.
// Exit codes: 0 everything holds; 1 something does not hold (named); 2 bad usage or unreadable input.
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { b64url } from './bytes.js';
import {
  checkConsistencyProof,
  checkInclusionProof,
  type LedgerVerifyReport,
  type ProofCheck,
  verifyLedgerExport,
} from './ledger-export.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface VerifyIo {
  readText(file: string): string;
  /**
   * The lines of a file, read as they are used (entries.jsonl can be larger than a string may
   * be). Opens the file when called; without it entries.jsonl is read whole with readText.
   */
  readLines?(file: string): Iterable<string>;
  out(text: string): void;
  err(text: string): void;
}

class InputError extends Error {}

/** Ed25519 verification with node:crypto and cached key objects: about 10× @noble/ed25519. */
export function nodeCryptoVerifier(): (
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
) => boolean {
  const cache = new Map<string, KeyObject>();
  return (signature, message, publicKey) => {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    const x = b64url.encode(publicKey);
    let key = cache.get(x);
    if (key === undefined) {
      try {
        key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
      } catch {
        return false;
      }
      cache.set(x, key);
    }
    return verify(null, message, key, signature);
  };
}

function read(io: VerifyIo, file: string, what: string): string {
  try {
    return io.readText(file);
  } catch (err) {
    throw new InputError(
      `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** entries.jsonl, streamed when the io can; a read error midway is unreadable input too. */
function readEntries(io: VerifyIo, file: string): string | Iterable<string> {
  if (!io.readLines) return read(io, file, 'entries');
  let lines: Iterable<string>;
  try {
    lines = io.readLines(file);
  } catch (err) {
    throw new InputError(
      `cannot read entries ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return (function* () {
    try {
      yield* lines;
    } catch (err) {
      throw new InputError(
        `cannot read entries ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  })();
}

function readJson(io: VerifyIo, file: string, what: string): unknown {
  const text = read(io, file, what);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`${what} ${file} is not JSON: ${(err as Error).message}`);
  }
}

/** The log key: --log-key, or log.vkey from a keys.json given with --keys. */
function logKeyOf(io: VerifyIo, opts: { logKey?: string; keys?: string }): string {
  if (opts.logKey !== undefined) return opts.logKey;
  if (opts.keys !== undefined) {
    const keys = readJson(io, opts.keys, 'keys file') as { log?: { vkey?: unknown } };
    if (typeof keys?.log?.vkey === 'string') return keys.log.vkey;
    throw new InputError(`${opts.keys} has no log.vkey`);
  }
  throw new InputError('give the log key with --log-key VKEY (or --keys keys.json)');
}

function describeReport(r: LedgerVerifyReport): string {
  const lines: string[] = [];
  if (r.ok) {
    lines.push(
      `OK: ${r.entries} entries, ${r.checkpoints} checkpoints, ${r.gateways} gateway chains; root ${r.root}`,
    );
    if (r.latestCheckpoint)
      lines.push(`latest checkpoint: size ${r.latestCheckpoint.size}, root ${r.latestCheckpoint.root}`);
    for (const [typ, n] of Object.entries(r.types).sort()) lines.push(`  ${n}\t${typ}`);
  } else {
    const f = r.failure!;
    const where =
      f.where === 'entry'
        ? `entry ${f.index} (entries.jsonl line ${f.line})`
        : f.where === 'checkpoint'
          ? `checkpoint ${f.index ?? '?'}${f.line === undefined ? '' : ` (checkpoints.txt line ${f.line})`}`
          : 'keys.json';
    lines.push(`FAILED at ${where}: ${f.reason}`, `  ${f.detail}`);
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

function printProof(io: VerifyIo, r: ProofCheck, json: boolean): number {
  if (json) io.out(`${JSON.stringify(r)}\n`);
  else io.out(r.ok ? `OK: ${r.detail}\n` : `FAILED: ${r.reason}\n  ${r.detail}\n`);
  return r.ok ? EXIT_OK : EXIT_FAILED;
}

/** Runs the command with `argv` (without node and script). Resolves to the exit code. */
export async function runVerify(argv: readonly string[], io: VerifyIo): Promise<number> {
  let code = EXIT_OK;
  const program = new Command('wattproof-verify')
    .description(
      'Verify a Wattproof ledger export without the hub (leaves, tree, checkpoints, signatures, chains), or an inclusion or consistency proof against signed checkpoints. See docs/ledger.md.',
    )
    .argument(
      '[dir]',
      'a folder written by `wattproof-hub export` (entries.jsonl, checkpoints.txt, keys.json)',
    )
    .option(
      '--log-key <vkey>',
      'pin the log key (C2SP verifier key name+id+key) instead of trusting keys.json',
    )
    .option(
      '--allow-unknown-types',
      'accept entry types this verifier does not know (signature checked only)',
    )
    .option('--json', 'print the report as JSON')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .action(
      (dir: string | undefined, opts: { logKey?: string; allowUnknownTypes?: boolean; json?: boolean }) => {
        if (dir === undefined) throw new InputError('name the export folder: wattproof-verify DIR');
        const files = {
          entries: readEntries(io, path.join(dir, 'entries.jsonl')),
          checkpoints: read(io, path.join(dir, 'checkpoints.txt'), 'checkpoints'),
          keys: read(io, path.join(dir, 'keys.json'), 'keys'),
        };
        const report = verifyLedgerExport(files, {
          ...(opts.logKey === undefined ? {} : { logKey: opts.logKey }),
          allowUnknownTypes: opts.allowUnknownTypes === true,
          verifySignature: nodeCryptoVerifier(),
          onProgress: (n) => io.err(`checked ${n} entries…\n`),
        });
        io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : describeReport(report));
        code = report.ok ? EXIT_OK : EXIT_FAILED;
      },
    );

  program
    .command('inclusion')
    .description('check that a leaf is in the tree a signed checkpoint commits to')
    .requiredOption('--proof <file>', 'the proof JSON: {leafIndex, treeSize, leafHash, hashes}')
    .requiredOption('--checkpoint <file>', 'the signed checkpoint of size treeSize')
    .option('--leaf <file>', 'the leaf (compact JWS) the proof should be for')
    .option('--log-key <vkey>', 'the log key')
    .option('--keys <file>', 'take the log key from this keys.json')
    .option('--json', 'print the result as JSON')
    .action(
      (opts: {
        proof: string;
        checkpoint: string;
        leaf?: string;
        logKey?: string;
        keys?: string;
        json?: boolean;
      }) => {
        const vkey = logKeyOf(io, opts);
        const leaf = opts.leaf === undefined ? undefined : read(io, opts.leaf, 'leaf').trim();
        const r = checkInclusionProof(
          readJson(io, opts.proof, 'proof'),
          read(io, opts.checkpoint, 'checkpoint'),
          vkey,
          leaf,
        );
        code = printProof(io, r, opts.json === true);
      },
    );

  program
    .command('consistency')
    .description('check that an older signed checkpoint is a prefix of a newer one (no rewrite, no fork)')
    .requiredOption('--proof <file>', 'the proof JSON: {first, second, hashes}')
    .requiredOption('--old <file>', 'the signed checkpoint of size first')
    .requiredOption('--new <file>', 'the signed checkpoint of size second')
    .option('--log-key <vkey>', 'the log key')
    .option('--keys <file>', 'take the log key from this keys.json')
    .option('--json', 'print the result as JSON')
    .action(
      (opts: { proof: string; old: string; new: string; logKey?: string; keys?: string; json?: boolean }) => {
        const vkey = logKeyOf(io, opts);
        const r = checkConsistencyProof(
          readJson(io, opts.proof, 'proof'),
          read(io, opts.old, 'checkpoint'),
          read(io, opts.new, 'checkpoint'),
          vkey,
        );
        code = printProof(io, r, opts.json === true);
      },
    );

  for (const sub of program.commands)
    sub.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof InputError) {
      io.err(`wattproof-verify: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    throw err;
  }
  return code;
}
