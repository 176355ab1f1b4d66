// The default health checks after an update: the new release answers `--version` with its own
// version (it loads, its bundle and native modules resolve), and, when the agent service runs,
// systemd reports it active (Type=notify: it sent READY=1) and it stays up without restarting for
// a settling period. A service that is not running (not configured or enrolled yet, or stopped by
// the operator) is only checked by the first test.
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { HealthContext, HealthResult } from './installer.js';
import { RUNTIME_ENTRY } from './installer.js';

export const AGENT_UNIT = 'wattproof-agent.service';

function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({
        code,
        stdout: String(stdout),
        stderr: String(stderr) || (err && code === -1 ? err.message : ''),
      });
    });
  });
}

/** The release runs and prints exactly its version. */
export async function versionAnswers(
  ctx: HealthContext,
  opts: { node?: string; timeoutMs?: number } = {},
): Promise<HealthResult> {
  const entry = path.join(ctx.releaseDir, RUNTIME_ENTRY);
  const r = await run(opts.node ?? process.execPath, [entry, '--version'], opts.timeoutMs ?? 30_000);
  const out = r.stdout.trim();
  if (r.code !== 0) {
    // The line naming the error says more than the stack under it.
    const lines = r.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    const why = lines.find((l) => /\b\w*Error\b:/.test(l)) ?? lines.at(-1) ?? '(no output)';
    return { ok: false, detail: `\`wattproof-agent --version\` of ${ctx.version} exited ${r.code}: ${why}` };
  }
  if (out !== ctx.version) {
    return { ok: false, detail: `\`wattproof-agent --version\` printed "${out}", expected ${ctx.version}` };
  }
  return { ok: true };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** systemd's view of the unit after the restart: active and not restarting for `settleMs`. */
export async function serviceSettles(
  opts: { systemctl?: string; unit?: string; settleMs?: number; deadlineMs?: number; pollMs?: number } = {},
): Promise<HealthResult> {
  const systemctl = opts.systemctl ?? 'systemctl';
  const unit = opts.unit ?? AGENT_UNIT;
  const settleMs = opts.settleMs ?? 30_000;
  const deadline = Date.now() + (opts.deadlineMs ?? 150_000);
  const pollMs = opts.pollMs ?? 1000;
  const show = async (): Promise<Record<string, string>> => {
    const r = await run(systemctl, ['show', unit, '-p', 'ActiveState,SubState,NRestarts'], 10_000);
    const props: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) props[line.slice(0, i)] = line.slice(i + 1);
    }
    return props;
  };
  let props = await show();
  if (props.ActiveState === 'inactive') return { ok: true };
  while (props.ActiveState !== 'active') {
    if (props.ActiveState === 'failed') return { ok: false, detail: `${unit} failed (${props.SubState})` };
    if (Date.now() > deadline)
      return { ok: false, detail: `${unit} did not become active (${props.ActiveState}/${props.SubState})` };
    await sleep(pollMs);
    props = await show();
  }
  const restarts = props.NRestarts;
  const settleEnd = Date.now() + settleMs;
  while (Date.now() < settleEnd) {
    await sleep(pollMs);
    props = await show();
    if (props.ActiveState !== 'active' || props.NRestarts !== restarts) {
      return {
        ok: false,
        detail: `${unit} did not stay up (${props.ActiveState}/${props.SubState}, restarts ${restarts} → ${props.NRestarts})`,
      };
    }
  }
  return { ok: true };
}

/** Both checks, in order. */
export async function defaultHealthCheck(ctx: HealthContext): Promise<HealthResult> {
  const v = await versionAnswers(ctx);
  if (!v.ok) return v;
  return serviceSettles();
}

/** Restarts the agent if it runs (a gateway not yet enrolled has nothing to restart). */
export async function restartAgentService(opts: { systemctl?: string; unit?: string } = {}): Promise<void> {
  const r = await run(opts.systemctl ?? 'systemctl', ['try-restart', opts.unit ?? AGENT_UNIT], 120_000);
  if (r.code !== 0)
    throw new Error(`systemctl try-restart ${opts.unit ?? AGENT_UNIT} failed: ${r.stderr.trim()}`);
}
