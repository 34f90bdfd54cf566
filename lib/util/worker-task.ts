/**
 * Synchronous file work on worker threads: the stage's two big jobs (writing
 * the release's files, copying user/) are thousands of small system calls,
 * which a worker makes back to back in microseconds each, where awaited calls
 * cost a thread-pool round trip apiece and compete with each other.
 *
 * Two rules for every worker here:
 * - A worker is never terminate()d: stopping one in the middle of a
 *   synchronous zlib or fs call can abort the whole process (Node 20). A
 *   stop is a shared flag (`Int32Array` on a SharedArrayBuffer) that the
 *   worker reads between two files, then ends on its own.
 * - The caller's promise settles only after the worker has exited, so
 *   nothing writes into a folder the caller is about to remove.
 */
import { Worker } from "node:worker_threads";
import { GpmError, type ExitCode } from "./errors.js";
import { abortRequested, AbortedError } from "./signals.js";

/** An error crossing the thread boundary: a GpmError keeps its exit code and hint, a system error its errno code. */
export interface WorkerError {
  message: string;
  exit?: number;
  hint?: string;
  errno?: string;
}

export function toWorkerError(err: unknown): WorkerError {
  if (err instanceof GpmError) return { message: err.message, exit: err.code, ...(err.hint === undefined ? {} : { hint: err.hint }) };
  const code = (err as { code?: unknown } | null)?.code;
  return { message: err instanceof Error ? err.message : String(err), ...(typeof code === "string" ? { errno: code } : {}) };
}

/** The error as the main thread rethrows it: the same exit code, message and hint, or errno code. */
export function fromWorkerError(e: WorkerError): Error {
  if (e.exit !== undefined) return new GpmError(e.exit as ExitCode, e.message, e.hint);
  return Object.assign(new Error(e.message), e.errno === undefined ? {} : { code: e.errno });
}

/** A fresh stop flag to hand to workers. */
export const newStopFlag = (): Int32Array => new Int32Array(new SharedArrayBuffer(4));
export const raiseStop = (flag: Int32Array): void => void Atomics.store(flag, 0, 1);
export const stopRaised = (flag: Int32Array): boolean => Atomics.load(flag, 0) !== 0;

/** Thrown inside a worker when it sees the stop flag; the caller rethrows its own reason instead. */
export class StoppedError extends Error {
  constructor() {
    super("stopped");
  }
}

/** What a single-task worker posts: any number of `note`s, then one `done`, `error` or `stopped`. */
export type TaskMessage<R, N> = { note: N } | { done: R } | { error: WorkerError } | { stopped: true };

/** How often the caller looks for SIGINT/SIGTERM while a worker runs (ms). */
const SIGNAL_POLL_MS = 50;

/**
 * Run one task on a worker (`url`, with `data` plus the stop flag as
 * workerData) and resolve with its `done` value. `onNote` sees its progress
 * notes. A SIGINT/SIGTERM or an abort of `signal` raises the stop flag; the
 * promise then rejects with that reason once the worker has ended.
 */
export function runWorkerTask<R, N>(url: URL, data: Record<string, unknown>, opts: { signal?: AbortSignal; onNote?: (note: N) => void }): Promise<R> {
  const stop = newStopFlag();
  const worker = new Worker(url, { workerData: { ...data, stop } });
  return new Promise<R>((resolve, reject) => {
    let outcome: { ok: R } | { err: unknown } | undefined;
    const settle = (o: { ok: R } | { err: unknown }): void => {
      outcome ??= o;
    };
    const stopFor = (reason: unknown): void => {
      settle({ err: reason });
      raiseStop(stop);
    };
    const onAbort = (): void => stopFor(opts.signal!.reason);
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const poll = setInterval(() => {
      const sig = abortRequested();
      if (sig) stopFor(new AbortedError(sig));
    }, SIGNAL_POLL_MS);
    worker.on("message", (msg: TaskMessage<R, N>) => {
      if ("note" in msg) opts.onNote?.(msg.note);
      else if ("done" in msg) settle({ ok: msg.done });
      else if ("error" in msg) settle({ err: fromWorkerError(msg.error) });
      // "stopped": the reason was recorded when the flag went up.
    });
    worker.on("error", (err) => settle({ err }));
    worker.on("exit", () => {
      clearInterval(poll);
      opts.signal?.removeEventListener("abort", onAbort);
      const o = outcome ?? { err: new Error("a worker stopped before its work was done") };
      if ("ok" in o) resolve(o.ok);
      else reject(o.err);
    });
  });
}
