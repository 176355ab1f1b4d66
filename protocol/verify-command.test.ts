// The verifier command run in-process on real files in a temp dir.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { b64url, utf8 } from './bytes.js';
import { signBytes } from './keys.js';
import { buildExampleLedger } from './ledger-example.js';
import { formatEntryLine } from './ledger-export.js';
import { consistencyProof, inclusionProof, leafHash, memorySubtreeSource } from './merkle.js';
import { EXAMPLE_KEYS } from './messages/examples.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, nodeCryptoVerifier, runVerify } from './verify-command.js';

const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ledger = buildExampleLedger();

function writeExport(name: string, files = ledger.files): string {
  const d = path.join(dir, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d);
  writeFileSync(path.join(d, 'entries.jsonl'), files.entries);
  writeFileSync(path.join(d, 'checkpoints.txt'), files.checkpoints);
  writeFileSync(path.join(d, 'keys.json'), files.keys);
  return d;
}

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runVerify(argv, {
    readText: (f) => readFileSync(f, 'utf8'),
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

describe('wattproof-verify DIR', () => {
  it('exits 0 on a good export and says what it checked', async () => {
    const r = await run(writeExport('good'));
    expect(r.code).toBe(EXIT_OK);
    expect(r.out).toMatch(/^OK: 14 entries, 3 checkpoints, 2 gateway chains; root /);
    expect(r.out).toContain('5\twattproof.meter-proof.v1');
  });

  it('--log-key pins the key; --json prints the report', async () => {
    const d = writeExport('good');
    expect((await run(d, '--log-key', ledger.vkey)).code).toBe(EXIT_OK);
    const r = await run(d, '--json');
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, entries: 14 });
    const other = await run(d, '--log-key', 'x+00000000+AQ==');
    expect(other.code).toBe(EXIT_FAILED);
    expect(other.out).toMatch(/FAILED at keys.json: log-key/);
  });

  it('reads entries.jsonl line by line when the io can, with the same answers', async () => {
    const d = writeExport('good');
    const opened: string[] = [];
    const io = (fail: boolean) => ({
      readText: (f: string) => readFileSync(f, 'utf8'),
      readLines: (f: string) => {
        opened.push(path.basename(f));
        const lines = readFileSync(f, 'utf8').split('\n').slice(0, -1);
        return (function* () {
          yield* lines.slice(0, 3);
          if (fail) throw Object.assign(new Error('gone'), { code: 'EIO' });
          yield* lines.slice(3);
        })();
      },
      out: () => undefined,
      err: (t: string) => errs.push(t),
    });
    const errs: string[] = [];
    expect(await runVerify([d], io(false))).toBe(EXIT_OK);
    expect(opened).toEqual(['entries.jsonl']);
    expect(await runVerify([d], io(true))).toBe(EXIT_USAGE);
    expect(errs.join('')).toMatch(/cannot read entries .*entries.jsonl: EIO/);
    const missing = await runVerify([path.join(dir, 'nowhere')], {
      ...io(false),
      readLines: (f: string) => readFileSync(f, 'utf8').split('\n'),
    });
    expect(missing).toBe(EXIT_USAGE);
    expect(errs.join('')).toMatch(/cannot read entries .*nowhere.*ENOENT/);
  });

  it('one flipped byte in an entry: exit 1, naming the entry and the line', async () => {
    const lines = ledger.files.entries.split('\n');
    const leaf = ledger.leaves[7]!;
    lines[7] = formatEntryLine(7, leaf.slice(0, 60) + (leaf[60] === 'x' ? 'y' : 'x') + leaf.slice(61));
    const r = await run(writeExport('bad-entry', { ...ledger.files, entries: lines.join('\n') }));
    expect(r.code).toBe(EXIT_FAILED);
    expect(r.out).toMatch(/^FAILED at entry 7 \(entries.jsonl line 8\): /);
  });

  it('one flipped byte in a checkpoint: exit 1, naming the checkpoint', async () => {
    const cps = ledger.files.checkpoints;
    const at = cps.indexOf('M8oi') + 1;
    const bad = cps.slice(0, at) + (cps[at] === 'A' ? 'B' : 'A') + cps.slice(at + 1);
    const r = await run(writeExport('bad-cp', { ...ledger.files, checkpoints: bad }), '--json');
    expect(r.code).toBe(EXIT_FAILED);
    expect(JSON.parse(r.out).failure).toMatchObject({ where: 'checkpoint', index: 1, line: 7 });
  });

  it('unreadable input or no folder: exit 2 with the reason', async () => {
    const r = await run(path.join(dir, 'missing'));
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toMatch(/cannot read entries .*ENOENT/);
    const none = await run();
    expect(none.code).toBe(EXIT_USAGE);
    expect(none.err).toMatch(/name the export folder/);
    expect((await run('--bogus')).code).toBe(EXIT_USAGE);
    const help = await run('--help');
    expect(help.code).toBe(EXIT_OK);
    expect(help.out).toMatch(/inclusion/);
  });

  it('--allow-unknown-types passes through', async () => {
    const r = await run(writeExport('good'), '--allow-unknown-types');
    expect(r.code).toBe(EXIT_OK);
  });
});

describe('wattproof-verify inclusion | consistency', () => {
  const hashes = ledger.leaves.map((l) => leafHash(utf8(l)));
  const store = memorySubtreeSource(hashes);
  const file = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const cp = (i: number) => file(`cp${i}.txt`, ledger.checkpoints[i]!);
  const keys = file('keys.json', ledger.files.keys);

  it('checks an inclusion proof (hub API JSON) against a checkpoint', async () => {
    const proof = file(
      'inc.json',
      JSON.stringify({
        index: 9,
        size: 14,
        leafHash: b64url.encode(hashes[9]!),
        proof: inclusionProof(9, 14, store).map(b64url.encode),
      }),
    );
    const leaf = file('leaf.txt', `${ledger.leaves[9]}\n`);
    const ok = await run(
      'inclusion',
      '--proof',
      proof,
      '--checkpoint',
      cp(2),
      '--log-key',
      ledger.vkey,
      '--leaf',
      leaf,
    );
    expect(ok).toMatchObject({ code: EXIT_OK, out: 'OK: leaf 9 is in the signed tree of size 14\n' });
    const viaKeys = await run('inclusion', '--proof', proof, '--checkpoint', cp(2), '--keys', keys, '--json');
    expect(JSON.parse(viaKeys.out)).toMatchObject({ ok: true });
    const wrong = await run('inclusion', '--proof', proof, '--checkpoint', cp(1), '--log-key', ledger.vkey);
    expect(wrong.code).toBe(EXIT_FAILED);
    expect(wrong.out).toMatch(/^FAILED: size-mismatch/);
  });

  it('checks a consistency proof between two checkpoints', async () => {
    const proof = file(
      'cons.json',
      JSON.stringify({ first: 4, second: 14, hashes: consistencyProof(4, 14, store).map(b64url.encode) }),
    );
    expect(
      (await run('consistency', '--proof', proof, '--old', cp(0), '--new', cp(2), '--log-key', ledger.vkey))
        .code,
    ).toBe(EXIT_OK);
    const r = await run('consistency', '--proof', proof, '--old', cp(1), '--new', cp(2), '--keys', keys);
    expect(r.code).toBe(EXIT_FAILED);
  });

  it('usage errors exit 2: no key, unreadable or non-JSON proof, keys without a log key', async () => {
    const proof = file('x.json', '{');
    expect((await run('inclusion', '--proof', proof, '--checkpoint', cp(2))).err).toMatch(/--log-key/);
    expect(
      (await run('inclusion', '--proof', proof, '--checkpoint', cp(2), '--log-key', ledger.vkey)).err,
    ).toMatch(/not JSON/);
    expect(
      (
        await run(
          'inclusion',
          '--proof',
          path.join(dir, 'nope'),
          '--checkpoint',
          cp(2),
          '--log-key',
          ledger.vkey,
        )
      ).code,
    ).toBe(EXIT_USAGE);
    const badKeys = file('badkeys.json', '{}');
    expect(
      (await run('consistency', '--proof', proof, '--old', cp(0), '--new', cp(2), '--keys', badKeys)).err,
    ).toMatch(/no log.vkey/);
    expect((await run('consistency', '--proof', proof)).code).toBe(EXIT_USAGE);
  });
});

describe('nodeCryptoVerifier', () => {
  it('agrees with @noble/ed25519 signatures and refuses bad ones', () => {
    const v = nodeCryptoVerifier();
    const k = EXAMPLE_KEYS.gatewayA;
    const msg = utf8('hello');
    const sig = signBytes(msg, k.secretKey);
    expect(v(sig, msg, k.publicKey)).toBe(true);
    expect(v(sig, msg, k.publicKey)).toBe(true); // cached key
    expect(v(sig, utf8('hellO'), k.publicKey)).toBe(false);
    expect(v(sig.subarray(1), msg, k.publicKey)).toBe(false);
    expect(v(sig, msg, new Uint8Array(32).fill(0xff))).toBe(false);
  });
});
