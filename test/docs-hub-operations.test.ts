// The hub's operator docs match the code: every `wattproof-hub …` command line in the shell blocks
// of docs/operations.md, deploy/hub/README.md and docs/hub-cli.md (and in deploy/hub's units) names a command the program has,
// with only options that command has (values where it takes one), its required options, and no
// more arguments than it takes; hub-cli.md's synopsis lists exactly the program's commands; every
// hub unit the docs name is in deploy/hub/. The lines are parsed against the registered commands,
// not run (the tests of each command run them).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commands } from '../hub/commands/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (rel: string) => readFileSync(path.join(repoRoot, rel), 'utf8');

function program(): Command {
  const p = new Command('wattproof-hub').version('0', '-v, --version');
  for (const add of commands) add(p);
  return p;
}

/** The lines of ```sh blocks, continuation lines joined. */
function shellLines(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = (m[1] as string).replace(/\\\n\s*/g, ' ');
    out.push(...joined.split('\n').filter((l) => l.trim() !== ''));
  }
  return out;
}

/** Shell words of one line: quotes and $(…) kept as one word, a comment ends the line. */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  const flush = () => {
    if (cur !== '') out.push(cur);
    cur = '';
  };
  while (i < line.length) {
    const c = line[i] as string;
    if (c === '#' && cur === '') break;
    if (c === ' ' || c === '\t') {
      flush();
      i++;
    } else if (c === '"' || c === "'") {
      const end = line.indexOf(c, i + 1);
      cur += line.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? line.length : end + 1;
    } else if (c === '$' && line[i + 1] === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < line.length; j++) {
        if (line[j] === '(') depth++;
        if (line[j] === ')' && --depth === 0) break;
      }
      cur += line.slice(i, j + 1);
      i = j + 1;
    } else {
      cur += c;
      i++;
    }
  }
  flush();
  return out;
}

const OPERATORS = new Set(['|', '||', '&&', ';', '>', '>>', '2>&1', '<']);

/** Every `wattproof-hub` command in a line: the words after it up to a shell operator. */
function invocations(line: string): string[][] {
  const w = words(line);
  const out: string[][] = [];
  w.forEach((word, i) => {
    // Only as a command: first on the line, after a shell operator, after runuser's `--`, or the
    // built CLI after node (as the units run it).
    const prev = w[i - 1];
    const asCommand =
      word === 'wattproof-hub' && (prev === undefined || prev === '--' || OPERATORS.has(prev));
    const asScript = word.endsWith('dist/hub/cli.js') && (prev === 'node' || prev === '/usr/bin/node');
    if (!asCommand && !asScript) return;
    const args: string[] = [];
    for (const a of w.slice(i + 1)) {
      if (OPERATORS.has(a)) break;
      args.push(a);
    }
    out.push(args);
  });
  return out;
}

/** Why `args` would not parse as a command of the program (undefined: it parses). */
function problem(p: Command, args: string[]): string | undefined {
  if (args.length === 1 && ['--version', '-v', '--help'].includes(args[0] as string)) return undefined;
  let cmd = p;
  let rest = args;
  while (cmd.commands.length > 0) {
    const name = rest[0];
    const sub = cmd.commands.find((c) => c.name() === name);
    if (!sub) return `no command "${name}" under "${cmd.name()}"`;
    cmd = sub;
    rest = rest.slice(1);
  }
  const given = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a === '--help') return undefined;
    if (a.startsWith('-')) {
      const opt = cmd.options.find((o) => o.long === a || o.short === a);
      if (!opt) return `${cmd.name()}: no option ${a}`;
      given.add(opt.attributeName());
      if (opt.required) {
        const v = rest[++i];
        if (v === undefined || v.startsWith('--')) return `${cmd.name()}: ${a} needs a value`;
      }
    } else positional.push(a);
  }
  for (const o of cmd.options) {
    if (o.mandatory && !given.has(o.attributeName())) return `${cmd.name()}: ${o.long} is required`;
  }
  const declared = cmd.registeredArguments;
  if (positional.length > declared.length)
    return `${cmd.name()}: too many arguments (${positional.join(' ')})`;
  const needed = declared.filter((a) => a.required).length;
  if (positional.length < needed) return `${cmd.name()}: ${needed} argument(s) needed`;
  return undefined;
}

const DOCS = ['docs/operations.md', 'deploy/hub/README.md', 'docs/hub-cli.md'];

describe('hub operator docs', () => {
  it('every wattproof-hub command line in them parses against the program', () => {
    const p = program();
    const seen = new Set<string>();
    const bad: string[] = [];
    for (const doc of DOCS) {
      for (const line of shellLines(read(doc))) {
        for (const args of invocations(line)) {
          seen.add(args[0] as string);
          const why = problem(p, args);
          if (why) bad.push(`${doc}: ${line.trim()}\n  -> ${why}`);
        }
      }
    }
    // The units' command lines (a `/bin/sh -c '…'` is read inside).
    for (const unit of readdirSync(path.join(repoRoot, 'deploy/hub')).filter((f) => f.endsWith('.service'))) {
      for (const m of read(`deploy/hub/${unit}`).matchAll(/^ExecStart=(.*)$/gm)) {
        const line = (m[1] as string).replace(/^\/bin\/sh -c '(.*)'$/, '$1');
        for (const args of invocations(line)) {
          seen.add(args[0] as string);
          const why = problem(p, args);
          if (why) bad.push(`deploy/hub/${unit}: ${line}\n  -> ${why}`);
        }
      }
    }
    expect(bad).toEqual([]);
    // The operations the docs promise are there.
    for (const c of ['start', 'token', 'verify', 'backup', 'restore', 'mirror', '--version']) {
      expect(seen, c).toContain(c);
    }
  });

  it('the checker refuses what does not parse', () => {
    const p = program();
    expect(problem(p, ['backup', '--data', 'D'])).toMatch(/--to is required/);
    expect(problem(p, ['backup', '--data', 'D', '--to', 'F', '--force'])).toMatch(/no option --force/);
    expect(problem(p, ['rotate'])).toMatch(/no command "rotate"/);
    expect(problem(p, ['verify'])).toMatch(/argument/);
    expect(problem(p, ['restore', '--from', 'F', '--data', 'D', '--replace'])).toBeUndefined();
    expect(
      invocations('runuser -u wattproof-hub -- wattproof-hub backup --data "/a b" --to F | tee x'),
    ).toEqual([['backup', '--data', '/a b', '--to', 'F']]);
  });

  it("hub-cli.md's synopsis lists exactly the program's commands", () => {
    const synopsis = /^```\n([\s\S]*?)```/m.exec(read('docs/hub-cli.md'))?.[1] ?? '';
    const listed = new Set([...synopsis.matchAll(/^wattproof-hub (\S+)/gm)].map((m) => m[1]));
    expect([...listed].sort()).toEqual(
      program()
        .commands.map((c) => c.name())
        .sort(),
    );
  });

  it('every hub unit the docs name is in deploy/hub/', () => {
    const units = new Set<string>();
    for (const doc of DOCS) {
      for (const m of read(doc).matchAll(
        /\b(wattproof-(?:hub|mosquitto)[\w-]*\.(?:service|path|timer))\b/g,
      )) {
        units.add(m[1] as string);
      }
    }
    expect(units.size).toBeGreaterThanOrEqual(4);
    for (const u of units) expect(() => read(`deploy/hub/${u}`), u).not.toThrow();
  });
});
