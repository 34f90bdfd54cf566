/**
 * Synchronous file work on worker threads: the stage's two big jobs (writing
 * the release's files, copying user/) are thousands of small system calls,
 * which a worker makes back to back in microseconds each, where awaited calls
 * cost a thread-pool round trip apiece and compete with each other.
 *
 * One pool for both (runPool), one way to start a worker (in it), one message
 * protocol (TaskIn / TaskOut, served on the worker by serveTasks). Two rules
 * for every worker here:
 * - A worker is never terminate()d: stopping one in the middle of a
 *   synchronous zlib or fs call can abort the whole process (Node 20). A
 *   stop is a shared flag (`Int32Array` on a SharedArrayBuffer) that the
 *   worker reads between two files, then ends on its own.
 * - The caller's promise settles only after every worker has exited, so
 *   nothing writes into a folder the caller is about to remove.
 */
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
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

/**
 * The protocol. In: `{ task, job }` for each task, then `{ end: true }`, on
 * which the worker closes its port and exits on its own. Out, per task: any
 * number of `note`s, then one `done`, `error`, or `stopped` (it saw the flag).
 */
export type TaskIn<J> = { task: number; job: J } | { end: true };
export type TaskOut<R, N> = { task: number; note: N } | { task: number; done: R } | { task: number; error: WorkerError } | { task: number; stopped: true };

/** What every worker gets as workerData: the caller's `data`, its `role` and the stop flag. */
export type WorkerData<D> = D & { role: string; stop: Int32Array };

export interface PoolOptions<D, J, R, N> {
  /** The worker's module: it calls serveTasks(role, ...) at load. */
  url: URL;
  role: string;
  data: D;
  jobs: J[];
  /** Threads to start (at most one per job). */
  workers: number;
  /** Tasks sent ahead to each worker (2: none waits for this thread between two). */
  inFlight?: number;
  signal?: AbortSignal;
  onNote?: (note: N, task: number) => void;
  /** Each result as it comes, on this thread; throwing stops the pool with that error. */
  onDone?: (result: R, task: number) => void;
}

/** How often the caller looks for SIGINT/SIGTERM while workers run (ms). */
const SIGNAL_POLL_MS = 50;

/**
 * Run `jobs` on up to `workers` threads and resolve with their results in job
 * order. The first error, a SIGINT/SIGTERM or an abort of `signal` raises the
 * stop flag (each worker finishes the file it is writing and skips the rest)
 * and is the reason the promise rejects with, once every worker has exited.
 */
export function runPool<D extends Record<string, unknown>, J, R, N = never>(opts: PoolOptions<D, J, R, N>): Promise<R[]> {
  const results = new Array<R>(opts.jobs.length);
  if (opts.jobs.length === 0) return Promise.resolve(results);
  if (opts.signal?.aborted) return Promise.reject(opts.signal.reason);
  const stop = newStopFlag();
  const data: WorkerData<D> = { ...opts.data, role: opts.role, stop };
  const count = Math.max(1, Math.min(opts.workers, opts.jobs.length));
  return new Promise<R[]>((resolve, reject) => {
    const threads: Worker[] = [];
    let next = 0;
    let finished = 0;
    let exited = 0;
    let ended = false;
    let error: unknown;
    const end = (err?: unknown): void => {
      if (err !== undefined && error === undefined) error = err;
      if (ended) return;
      ended = true;
      raiseStop(stop);
      for (const w of threads) w.postMessage({ end: true } satisfies TaskIn<J>);
    };
    const send = (w: Worker): void => {
      if (next >= opts.jobs.length || ended) return;
      const task = next++;
      w.postMessage({ task, job: opts.jobs[task]! } satisfies TaskIn<J>);
    };
    const onAbort = (): void => end(opts.signal!.reason);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const poll = setInterval(() => {
      const sig = abortRequested();
      if (sig) end(new AbortedError(sig));
    }, SIGNAL_POLL_MS);
    const onMessage = (w: Worker, msg: TaskOut<R, N>): void => {
      if (ended) return;
      if ("note" in msg) return opts.onNote?.(msg.note, msg.task);
      if ("error" in msg) return end(fromWorkerError(msg.error));
      // "stopped": the reason was recorded when the flag went up.
      if ("stopped" in msg) return;
      results[msg.task] = msg.done;
      try {
        opts.onDone?.(msg.done, msg.task);
      } catch (err) {
        return end(err);
      }
      if (++finished === opts.jobs.length) end();
      else send(w);
    };
    for (let i = 0; i < count; i++) {
      const w = new Worker(opts.url, { workerData: data });
      threads.push(w);
      w.on("message", (msg: TaskOut<R, N>) => onMessage(w, msg));
      w.on("error", (err) => end(err));
      w.on("exit", () => {
        if (!ended) end(new Error("a worker stopped before its work was done"));
        if (++exited < threads.length) return;
        clearInterval(poll);
        opts.signal?.removeEventListener("abort", onAbort);
        if (error !== undefined) reject(error);
        else resolve(results);
      });
      for (let k = 0; k < (opts.inFlight ?? 1); k++) send(w);
    }
  });
}

/** One job on one worker (the user/ copy): runPool with a single task. */
export async function runWorkerTask<D extends Record<string, unknown>, J, R, N>(url: URL, role: string, data: D, job: J, opts: { signal?: AbortSignal; onNote?: (note: N) => void }): Promise<R> {
  const [r] = await runPool<D, J, R, N>({ url, role, data, jobs: [job], workers: 1, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onNote ? { onNote: opts.onNote } : {}) });
  return r!;
}

/**
 * The worker's side: when this thread was started by runPool for `role`,
 * answer each task with `handle(job, note)`. `handle` throws StoppedError
 * when it sees the flag. Call it at a module's top level; it does nothing on
 * the main thread or in a worker of another role.
 */
export function serveTasks<D, J, R, N = never>(role: string, handle: (job: J, ctx: { data: WorkerData<D>; note: (n: N) => void }) => R): void {
  const data = workerData as WorkerData<D> | null;
  if (isMainThread || !parentPort || data?.role !== role) return;
  const port = parentPort;
  port.on("message", (msg: TaskIn<J>) => {
    if ("end" in msg) return port.close();
    const post = (m: TaskOut<R, N>): void => port.postMessage(m);
    try {
      post({ task: msg.task, done: handle(msg.job, { data, note: (note) => post({ task: msg.task, note }) }) });
    } catch (err) {
      post(err instanceof StoppedError ? { task: msg.task, stopped: true } : { task: msg.task, error: toWorkerError(err) });
    }
  });
}
