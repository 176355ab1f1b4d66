// The RS-485 udev rule. udev does not run here (no udevadm in a container, and systemd 252's
// udevadm has no `verify`), so this test reads the rule with a strict parser for the udev rule
// grammar it uses, and evaluates it with a small interpreter of those same operators (==, !=, =,
// +=, GOTO/LABEL, ENV, $env and $attr substitution, glob and | alternatives) against the
// properties udev's usb_id and path_id builtins give real adapters. It checks what the rule
// promises: a stable by-path symlink and group dialout for the known adapters, nothing for others.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ruleFile = path.join(repoRoot, 'deploy/gateway/udev/70-wattproof-rs485.rules');

interface Pair {
  key: string;
  attr?: string;
  op: '==' | '!=' | '=' | '+=' | ':=';
  value: string;
}

const KNOWN_KEYS = new Set([
  'ACTION',
  'SUBSYSTEM',
  'SUBSYSTEMS',
  'KERNEL',
  'ENV',
  'ATTRS',
  'IMPORT',
  'GOTO',
  'LABEL',
  'GROUP',
  'MODE',
  'SYMLINK',
]);

function parseRules(text: string): Pair[][] {
  const rules: Pair[][] = [];
  text.split('\n').forEach((raw, n) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const pairs: Pair[] = [];
    const re = /\s*([A-Z]+)(?:\{([^}]*)\})?(==|!=|\+=|:=|=)"([^"]*)"\s*(,|$)/y;
    let pos = 0;
    while (pos < line.length) {
      re.lastIndex = pos;
      const m = re.exec(line);
      if (!m) throw new Error(`line ${n + 1}: cannot parse at "${line.slice(pos)}"`);
      const [, key, attr, op, value] = m as unknown as [
        string,
        string,
        string | undefined,
        Pair['op'],
        string,
      ];
      if (!KNOWN_KEYS.has(key)) throw new Error(`line ${n + 1}: unknown key ${key}`);
      pairs.push({ key, attr, op, value });
      pos = re.lastIndex;
    }
    rules.push(pairs);
  });
  return rules;
}

interface UsbSerialEvent {
  action: 'add' | 'remove' | 'change';
  subsystem: string;
  kernel: string;
  /** Properties usb_id and path_id set (and earlier rules). */
  env: Record<string, string>;
  /** Attributes of the device and its parents (ATTRS / $attr). */
  attrs: Record<string, string>;
  parentSubsystems: string[];
}

function globMatch(pattern: string, s: string): boolean {
  return pattern.split('|').some((alt) => {
    const re = new RegExp(
      `^${alt
        .replace(/[.+^${}()\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')
        .replace(/\\\[|\[/g, '[')}$`,
    );
    return re.test(s);
  });
}

/** Applies the rules like udev does for one event; returns the resulting device setup. */
function evaluate(rules: Pair[][], ev: UsbSerialEvent) {
  const env = { ...ev.env };
  const out = {
    group: undefined as string | undefined,
    mode: undefined as string | undefined,
    symlinks: [] as string[],
  };
  const subst = (v: string) =>
    v
      .replace(/\$env\{([^}]+)\}/g, (_m, k: string) => env[k] ?? '')
      .replace(/\$attr\{([^}]+)\}/g, (_m, k: string) => ev.attrs[k] ?? '');
  let i = 0;
  let gotoLabel: string | undefined;
  while (i < rules.length) {
    const rule = rules[i] as Pair[];
    i++;
    if (gotoLabel !== undefined) {
      if (rule.some((p) => p.key === 'LABEL' && p.value === gotoLabel)) gotoLabel = undefined;
      continue;
    }
    const matches = rule.every((p) => {
      if (p.op !== '==' && p.op !== '!=') return true;
      let actual: string | string[] | undefined;
      if (p.key === 'ACTION') actual = ev.action;
      else if (p.key === 'SUBSYSTEM') actual = ev.subsystem;
      else if (p.key === 'SUBSYSTEMS') actual = [ev.subsystem, ...ev.parentSubsystems];
      else if (p.key === 'KERNEL') actual = ev.kernel;
      else if (p.key === 'ENV') actual = env[p.attr ?? ''] ?? '';
      else if (p.key === 'ATTRS') actual = ev.attrs[p.attr ?? ''];
      const candidates = Array.isArray(actual) ? actual : [actual ?? ''];
      const hit = candidates.some((c) => (p.value === '?*' ? c.length > 0 : globMatch(p.value, c)));
      return p.op === '==' ? hit : !hit;
    });
    if (!matches) continue;
    for (const p of rule) {
      if (p.op === '==' || p.op === '!=') continue;
      if (p.key === 'GOTO') gotoLabel = p.value;
      else if (p.key === 'ENV') env[p.attr ?? ''] = subst(p.value);
      else if (p.key === 'GROUP') out.group = subst(p.value);
      else if (p.key === 'MODE') out.mode = subst(p.value);
      else if (p.key === 'SYMLINK') out.symlinks.push(subst(p.value));
      // IMPORT{builtin}: the event already carries what usb_id and path_id would set.
    }
  }
  expect(gotoLabel, 'a GOTO jumped to a label that does not exist').toBeUndefined();
  return { ...out, env };
}

// What udev's builtins report for a CH340 adapter in a Raspberry Pi 4's USB socket 1.2.
const pi4Path = 'platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0';
const pi4Tag = 'platform-fd500000_pcie-pci-0000_01_00_0-usb-0_1_2_1_0';
function adapter(vendor: string, model: string, over: Partial<UsbSerialEvent> = {}): UsbSerialEvent {
  return {
    action: 'add',
    subsystem: 'tty',
    kernel: 'ttyUSB0',
    env: { ID_BUS: 'usb', ID_VENDOR_ID: vendor, ID_MODEL_ID: model, ID_PATH: pi4Path, ID_PATH_TAG: pi4Tag },
    attrs: { port_number: '0' },
    parentSubsystems: ['usb-serial', 'usb'],
    ...over,
  };
}

describe('the RS-485 udev rule', () => {
  const rules = parseRules(readFileSync(ruleFile, 'utf8'));

  it('parses: every line is KEY[{attr}]OP"value" pairs with keys udev knows, and every GOTO has its LABEL', () => {
    expect(rules.length).toBeGreaterThan(5);
    const labels = new Set(
      rules
        .flat()
        .filter((p) => p.key === 'LABEL')
        .map((p) => p.value),
    );
    for (const p of rules.flat().filter((q) => q.key === 'GOTO'))
      expect(labels.has(p.value), p.value).toBe(true);
    expect(() => parseRules('KERNEL=="ttyUSB*", GROUP="dialout"\nFOO=="x"')).toThrow(
      /line 2: unknown key FOO/,
    );
    expect(() => parseRules('KERNEL=="ttyUSB*" GROUP="dialout"')).toThrow(/cannot parse/);
  });

  it.each([
    ['FTDI FT232R', '0403', '6001'],
    ['QinHeng CH340', '1a86', '7523'],
    ['Silicon Labs CP2102', '10c4', 'ea60'],
    ['Prolific PL2303', '067b', '2303'],
  ])('gives a %s adapter group dialout and a stable by-path name', (_name, vendor, model) => {
    const r = evaluate(rules, adapter(vendor, model));
    expect(r.group).toBe('dialout');
    expect(r.mode).toBe('0660');
    expect(r.symlinks).toEqual([`wattproof-rs485-${pi4Tag}-port0`]);
    expect(r.env.WATTPROOF_RS485).toBe('1');
  });

  it('names each port of a multi-port adapter, and the name follows the socket, not the order of detection', () => {
    const port2 = evaluate(
      rules,
      adapter('0403', '6011', { kernel: 'ttyUSB3', attrs: { port_number: '2' } }),
    );
    expect(port2.symlinks).toEqual([`wattproof-rs485-${pi4Tag}-port2`]);
    const sameSocketOtherName = evaluate(rules, adapter('1a86', '7523', { kernel: 'ttyUSB7' }));
    expect(sameSocketOtherName.symlinks).toEqual([`wattproof-rs485-${pi4Tag}-port0`]);
  });

  it('leaves other devices, removals and the Pi’s own UARTs alone', () => {
    expect(evaluate(rules, adapter('2341', '0043'))).toMatchObject({ group: undefined, symlinks: [] }); // an Arduino
    expect(evaluate(rules, adapter('0403', '6001', { action: 'remove' }))).toMatchObject({ symlinks: [] });
    expect(evaluate(rules, adapter('0403', '6001', { kernel: 'ttyAMA0', subsystem: 'tty' }))).toMatchObject({
      symlinks: [],
    });
    expect(evaluate(rules, adapter('0403', '6001', { subsystem: 'usb' }))).toMatchObject({ symlinks: [] });
  });

  it('is installed where udev reads packaged rules, after 60-serial.rules', () => {
    expect(path.basename(ruleFile)).toMatch(/^7\d-/);
    const build = readFileSync(path.join(repoRoot, 'scripts/package-gateway.ts'), 'utf8');
    expect(build).toContain("'usr/lib/udev/rules.d/70-wattproof-rs485.rules'");
  });
});
