// A pair of connected pseudo-terminals from socat: what one end writes the other reads, like two
// ends of a serial cable. The simulator serves RTU on one end, the client under test opens the other.
import { type ChildProcess, spawn } from 'node:child_process';

export interface PtyPair {
  /** The end the simulator (the devices) opens. */
  readonly device: string;
  /** The end the client (the gateway) opens. */
  readonly client: string;
  close(): Promise<void>;
}

/** Starts `socat -d -d pty,raw,echo=0 pty,raw,echo=0` and reads the two /dev/pts paths from its log. */
export async function startPtyPair(timeoutMs = 5000): Promise<PtyPair> {
  const child = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const paths: string[] = [];
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`socat did not report two pseudo-terminals within ${timeoutMs} ms; its log:\n${log}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start socat (apt-get install socat): ${err.message}`));
    });
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`socat exited with ${code} before it was ready; its log:\n${log}`));
    };
    child.once('exit', early);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      log += chunk;
      for (const m of chunk.matchAll(/PTY is (\/dev\/pts\/\d+)/g)) if (m[1]) paths.push(m[1]);
      // "starting data transfer loop" follows the second PTY line: both ends are open.
      if (paths.length >= 2 && /starting data transfer loop/.test(log)) {
        clearTimeout(timer);
        child.off('exit', early);
        resolve();
      }
    });
  });
  const [device, client] = paths as [string, string];
  return { device, client, close: () => stop(child) };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // socat ends on SIGTERM at once; SIGKILL is only for a socat stuck on a wedged terminal.
    const hard = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
