/**
 * Writing the files of a release: the small entries (nearly all of them) on
 * this thread in slices or spread over the worker pool (util/worker-task.ts,
 * extract-worker.ts), both ways through the same extractSmallEntry, so a file
 * is judged and written alike whichever thread writes it; the large entries
 * streamed on this thread meanwhile.
 */
import os from "node:os";
import { killPoint } from "../util/seams.js";
import { Slices } from "../util/slices.js";
import { runPool } from "../util/worker-task.js";
import { ArchiveWindow, CreatedModes, extractSmallEntry, type SmallJob, type UnpackBudget, type Written } from "./extract-entry.js";
import { EXTRACT_ROLE, type WorkerInit } from "./extract-worker.js";
import type yauzl from "yauzl";
import { SLICE_MS, stopIfAsked, writeLargeEntry, type Planned } from "./zip-reader.js";

const WORKER_URL = new URL("./extract-worker.js", import.meta.url);

export interface SmallOptions {
  maxUnpackedBytes: number;
  signal?: AbortSignal;
  /** Worker threads (0: all on this thread); default by entry count and cores. */
  workers?: number;
}

/**
 * Worker threads for the small entries: inflating, hashing and creating
 * 20,000 files is CPU work (in zlib, in SHA-256 and in the kernel's file
 * creation) that one thread does at the speed of `unzip`; spread over the
 * machine's cores it takes a fraction of that. Below WORKERS_FROM entries a
 * worker's start-up (~40 ms) costs more than it saves.
 */
const WORKERS_FROM = 512;
const MAX_WORKERS = 4;
function defaultWorkers(smallEntries: number): number {
  const cores = os.availableParallelism();
  return smallEntries < WORKERS_FROM || cores < 2 ? 0 : Math.min(MAX_WORKERS, cores);
}

/** Small entries on this thread, in slices (the archives below WORKERS_FROM, and machines with one core). */
async function writeInline(jobs: SmallJob[], fd: number, size: number, budget: UnpackBudget, opts: { signal: AbortSignal }, progressed: (n: number) => void): Promise<Written[]> {
  const win = new ArchiveWindow(fd, size);
  const modes = new CreatedModes();
  const slices = new Slices(SLICE_MS);
  const out: Written[] = [];
  let pending = 0;
  for (const job of jobs) {
    await slices.tick(() => {
      progressed(pending);
      pending = 0;
    });
    stopIfAsked(opts.signal);
    out.push(extractSmallEntry(win, job, budget, modes));
    if (out.length === 1) killPoint("stage:extracting");
    pending++;
  }
  progressed(pending);
  return out;
}

/** A batch closes at this many entries or compressed bytes: small enough to spread evenly and to notice a stop within milliseconds. */
const BATCH_ENTRIES = 64;
const BATCH_BYTES = 1 << 20;

/** Contiguous runs of jobs (entries lie in archive order, so each batch reads one stretch of the file). */
function batchesOf(jobs: SmallJob[]): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < jobs.length; i++) {
    bytes += jobs[i]!.compressedSize;
    if (i + 1 - start >= BATCH_ENTRIES || bytes >= BATCH_BYTES) {
      out.push([start, i + 1]);
      start = i + 1;
      bytes = 0;
    }
  }
  if (start < jobs.length) out.push([start, jobs.length]);
  return out;
}

/**
 * Small entries on `count` worker threads, each fed batches (two in flight,
 * so none waits for this thread between batches). The first error, or a stop
 * asked for, raises the pool's stop flag: each worker finishes the entry it
 * is writing and skips the rest. The promise settles only once every worker
 * has exited, so nothing writes into the destination afterwards.
 */
async function writeInWorkers(jobs: SmallJob[], count: number, fd: number, size: number, opts: { maxUnpackedBytes: number; signal: AbortSignal }, progressed: (n: number) => void): Promise<Written[]> {
  const batches = batchesOf(jobs);
  let finished = 0;
  const done = await runPool<WorkerInit, SmallJob[], Written[]>({
    url: WORKER_URL,
    role: EXTRACT_ROLE,
    data: { fd, size, maxUnpackedBytes: opts.maxUnpackedBytes },
    jobs: batches.map(([from, to]) => jobs.slice(from, to)),
    workers: count,
    inFlight: 2,
    signal: opts.signal,
    onDone: (results) => {
      progressed(results.length);
      stopIfAsked(opts.signal);
      // Some files are written, others are still to come (and with workers, being written).
      if (finished++ === 0) killPoint("stage:extracting");
    },
  });
  return done.flat();
}

/**
 * Wait for both; the first to fail aborts `stop` (so the other stops at its
 * next check) and its error is the one thrown, once both have ended: nothing
 * is still writing into the destination when the caller removes it.
 */
async function settleBoth<A, B>(a: Promise<A>, b: Promise<B>, stop: AbortController): Promise<[A, B]> {
  const first = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      if (!stop.signal.aborted) stop.abort(err);
      throw err;
    });
  const [ra, rb] = await Promise.allSettled([first(a), first(b)]);
  if (stop.signal.aborted) throw stop.signal.reason;
  if (ra.status === "rejected") throw ra.reason;
  if (rb.status === "rejected") throw rb.reason;
  return [ra.value, rb.value];
}

/**
 * Write the small `jobs` and the `large` entries concurrently. Either side's
 * failure stops the other, and is the error reported, once both have ended.
 */
export async function writeFiles(zf: yauzl.ZipFile, fd: number, jobs: SmallJob[], large: { p: Planned; dest: string }[], budget: UnpackBudget, opts: SmallOptions & { signal?: AbortSignal }, progressed: (n: number) => void): Promise<{ small: Written[]; large: Written[]; workers: number }> {
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const workers = opts.workers ?? defaultWorkers(jobs.length);
  const writeSmall = workers > 0 ? writeInWorkers(jobs, workers, fd, zf.fileSize, { maxUnpackedBytes: opts.maxUnpackedBytes, signal }, progressed) : writeInline(jobs, fd, zf.fileSize, budget, { signal }, progressed);
  // The large entries stream on this thread meanwhile (their reads, inflate
  // and writes are mostly thread-pool work).
  const writeLarge = (async (): Promise<Written[]> => {
    const out = [];
    for (const { p, dest } of large) {
      stopIfAsked(signal);
      out.push(await writeLargeEntry(zf, p, dest, budget));
      progressed(1);
    }
    return out;
  })();
  const [small, big] = await settleBoth(writeSmall, writeLarge, stop);
  return { small, large: big, workers };
}
