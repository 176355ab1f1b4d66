// A verification worker thread: receives batches of VerifyJob, answers with their outcomes.
import { parentPort } from 'node:worker_threads';
import { Ed25519Verifier } from './fast-verify.js';
import { type VerifyJob, type VerifyOutcome, verifyJob } from './verify-jobs.js';

const verifier = new Ed25519Verifier();

parentPort?.on('message', (msg: { id: number; jobs: VerifyJob[] }) => {
  const results: VerifyOutcome[] = msg.jobs.map((job) => {
    try {
      return verifyJob(job, verifier);
    } catch (err) {
      return { ok: false, reason: 'internal-error', detail: (err as Error).message };
    }
  });
  parentPort?.postMessage({ id: msg.id, results });
});
