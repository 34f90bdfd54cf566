/**
 * Synchronous file work in slices: a loop of synchronous calls (answered
 * from the page cache in microseconds, where awaited ones cost a thread-pool
 * round trip each) gives the event loop a turn every `ms` milliseconds, so
 * signals are noticed, progress moves and concurrent work gets its turn.
 */
export class Slices {
  private end: number;
  constructor(private readonly ms: number) {
    this.end = performance.now() + ms;
  }
  /** Yield if this slice is used up (calling `before` first: progress is reported once per slice). */
  async tick(before?: () => void): Promise<void> {
    if (performance.now() < this.end) return;
    before?.();
    await new Promise((resolve) => setImmediate(resolve));
    this.end = performance.now() + this.ms;
  }
}
