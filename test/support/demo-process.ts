// Runs the demo (`npm start`'s program, dist/demo/start.js) as a child process and reads its
// stdout line by line, so a test waits for what it prints instead of sleeping.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const demoScript = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../../dist/demo/start.js',
);

export interface DemoProcess {
  child: ChildProcess;
  lines: string[];
  stderr(): string;
  /** Resolves with the first line (seen so far or later) that matches, or fails after `ms`. */
  waitForLine(re: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

export function startDemo(args: string[]): DemoProcess {
  const child = spawn(process.execPath, [demoScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  const waiters = new Set<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) {
      const m = w.re.exec(line);
      if (m) {
        waiters.delete(w);
        w.resolve(m);
      }
    }
  });
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString('utf8');
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    waitForLine(re, ms) {
      for (const line of lines) {
        const m = re.exec(line);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const w = { re, resolve };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(
            new Error(
              `timed out after ${ms} ms waiting for ${re}; stdout:\n${lines.join('\n')}\nstderr:\n${err}`,
            ),
          );
        }, ms);
        w.resolve = (m) => {
          clearTimeout(timer);
          resolve(m);
        };
        waiters.add(w);
        void exited.then((code) => {
          if (!waiters.has(w)) return;
          waiters.delete(w);
          clearTimeout(timer);
          reject(
            new Error(
              `the demo exited (${code}) before printing ${re}; stdout:\n${lines.join('\n')}\nstderr:\n${err}`,
            ),
          );
        });
      });
    },
  };
}
