// A network namespace the fault tests create, joined to the host by a veth pair with addresses
// used only on that pair. The agent (and its devices) run inside; the broker listens on the
// host end. Cutting the host end (`ip link set … down`) makes packets vanish both ways: the
// namespace end keeps its route and sends into a link without carrier, the host end has no route
// back, and neither side sees a connection close — only silence, as on a dead uplink.
// (This kernel has no sch_netem and the machine no iptables, so `tc … netem loss 100%` and DROP
// rules are not available here; the link cut gives the same silence.)
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

export interface NetNs {
  name: string;
  hostAddr: string;
  nsAddr: string;
  cut(): void;
  restore(): void;
  /** Spawns `cmd args` inside the namespace; output is collected. */
  spawn(cmd: string, args: string[]): { child: ChildProcess; output: () => string; exited: Promise<unknown> };
  remove(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Creates the namespace, or returns why it cannot (not root, no `ip netns`). */
export function createNetNs(): NetNs | { unavailable: string } {
  const id = process.pid % 250;
  const name = `wpf-${process.pid}`;
  const host = `wpfh${process.pid}`.slice(0, 15);
  const peer = `wpfn${process.pid}`.slice(0, 15);
  const hostAddr = `10.213.${id}.1`;
  const nsAddr = `10.213.${id}.2`;
  try {
    ip('netns', 'add', name);
  } catch (err) {
    return { unavailable: `ip netns add failed: ${(err as Error).message.split('\n')[0]}` };
  }
  try {
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', name);
    ip('addr', 'add', `${hostAddr}/30`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${nsAddr}/30`, 'dev', peer);
    ip('netns', 'exec', name, 'ip', 'link', 'set', peer, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    try {
      ip('netns', 'del', name);
    } catch {}
    return { unavailable: `veth setup failed: ${(err as Error).message.split('\n')[0]}` };
  }
  return {
    name,
    hostAddr,
    nsAddr,
    cut: () => ip('link', 'set', host, 'down'),
    restore: () => ip('link', 'set', host, 'up'),
    spawn(cmd, args) {
      const child = spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString('utf8');
      });
      child.stderr?.on('data', (c: Buffer) => {
        out += c.toString('utf8');
      });
      const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
      return { child, output: () => out, exited };
    },
    remove() {
      try {
        ip('link', 'del', host);
      } catch {}
      try {
        ip('netns', 'del', name);
      } catch {}
    },
  };
}
