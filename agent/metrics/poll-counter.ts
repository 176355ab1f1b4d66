// Counts each device's reads and failed reads for the metrics, by wrapping its meter source: the
// agent's poll loop stays as it is, and a source that is not wrapped is simply not counted.
import type { MeterSource } from '../meter-source.js';

export interface PollCounts {
  polls: number;
  errors: number;
}

export class PollCounter {
  readonly counts = new Map<string, PollCounts>();

  /** The same source, counting every describe() and read() and the ones that throw. */
  wrap(source: MeterSource): MeterSource {
    const c: PollCounts = { polls: 0, errors: 0 };
    this.counts.set(source.name, c);
    const counted = async <T>(call: () => Promise<T>): Promise<T> => {
      c.polls++;
      try {
        return await call();
      } catch (err) {
        c.errors++;
        throw err;
      }
    };
    return {
      name: source.name,
      describe: () => counted(() => source.describe()),
      read: () => counted(() => source.read()),
      health: () => source.health(),
    };
  }
}
