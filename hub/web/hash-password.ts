// Makes the secrets of a dashboard user for the hub config:
//   node dist/hub/web/hash-password.js            reads a password on stdin, prints passwordHash
//   node dist/hub/web/hash-password.js --token    prints a new API token (once) and its tokenHash
// Nothing is written to disk; the password is never echoed.
import { hashPassword, hashToken, newToken } from './users.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function main(): Promise<void> {
  if (process.argv.includes('--token')) {
    const token = newToken();
    process.stdout.write(
      `token (give it to the script's owner; shown once): ${token}\ntokenHash: ${hashToken(token)}\n`,
    );
    return;
  }
  if (process.stdin.isTTY) process.stderr.write('password (then Enter, Ctrl-D): ');
  const password = await readStdin();
  process.stdout.write(`passwordHash: ${await hashPassword(password)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`hash-password: ${(err as Error).message}\n`);
  process.exitCode = 2;
});
