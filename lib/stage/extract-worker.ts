/**
 * A worker thread of the extraction (extract.ts): it writes batches of small
 * entries that the main thread has already judged (names, structure, sizes)
 * and placed (`dest` is a checked path under the destination). It reads the
 * archive through the main thread's file descriptor (descriptors belong to
 * the process, and every read is positioned), so all threads read the one
 * file that was opened, hashed and verified.
 *
 * Protocol: util/worker-task.ts (runPool / serveTasks); workerData `{ fd,
 * size, maxUnpackedBytes }` plus the stop flag; each task is a batch of jobs,
 * answered by their sha256 and size, in order. A batch that sees the stop
 * flag raised answers `stopped` (the flag is checked between entries).
 */
import v8 from "node:v8";
import vm from "node:vm";
import { serveTasks, stopRaised, StoppedError } from "../util/worker-task.js";
import { ArchiveWindow, CreatedModes, UnpackBudget, extractSmallEntry, type SmallJob, type Written } from "./extract-entry.js";

export const EXTRACT_ROLE = "gpm-extract";
export interface WorkerInit extends Record<string, unknown> {
  fd: number;
  size: number;
  maxUnpackedBytes: number;
}
/**
 * An entry at least this large is followed by a young-generation collection.
 * Each entry's inflated bytes are a fresh buffer outside V8's heap, and V8
 * collects those only when its own heap fills or some 64 MB of them have
 * piled up, per thread: with two workers that was ~100 MB of dead 4 MiB
 * buffers at the peak. A minor GC after each big one frees it at once
 * (~1 ms; there are a few dozen such entries in a release).
 */
const COLLECT_AFTER_BYTES = 1 << 20;

/** `gc()` as Jest's leak detector gets it: expose it (a process-wide V8 flag), then take it from a fresh context. */
function minorGc(): () => void {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as (opts?: { type: "minor" | "major" }) => void;
  return () => gc({ type: "minor" });
}

interface State {
  win: ArchiveWindow;
  budget: UnpackBudget;
  modes: CreatedModes;
  collect: () => void;
}
let state: State | undefined;

serveTasks<WorkerInit, SmallJob[], Written[]>(EXTRACT_ROLE, (jobs, { data }) => {
  state ??= {
    win: new ArchiveWindow(data.fd, data.size),
    // Each worker's own count: every small entry is refused above its declared
    // size, and the declared sizes were checked against the limit up front, so
    // the threads together cannot pass it either.
    budget: new UnpackBudget(data.maxUnpackedBytes),
    modes: new CreatedModes(),
    collect: minorGc(),
  };
  const results: Written[] = [];
  for (const job of jobs) {
    if (stopRaised(data.stop)) throw new StoppedError();
    results.push(extractSmallEntry(state.win, job, state.budget, state.modes));
    if (job.size >= COLLECT_AFTER_BYTES) state.collect();
  }
  return results;
});
