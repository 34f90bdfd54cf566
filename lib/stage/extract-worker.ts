/**
 * A worker thread of the extraction (extract.ts): it writes batches of small
 * entries that the main thread has already judged (names, structure, sizes)
 * and placed (`dest` is a checked path under the destination). It reads the
 * archive through the main thread's file descriptor (descriptors belong to
 * the process, and every read is positioned), so all threads read the one
 * file that was opened, hashed and verified.
 *
 * Protocol: workerData `{ role, fd, size, maxUnpackedBytes, stop }`; each
 * message in is `{ batch, jobs }`, answered by `{ batch, results }` (sha256
 * and size per job, in order), `{ batch, error }`, or `{ batch, stopped }`
 * when the shared `stop` flag was raised. `{ end: true }` closes the port and
 * the thread exits on its own. Workers are never terminate()d: stopping one
 * in the middle of a synchronous zlib or fs call can abort the whole process
 * (Node 20), so a stop is the flag, checked between entries.
 */
import v8 from "node:v8";
import vm from "node:vm";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { stopRaised, toWorkerError, type WorkerError } from "../util/worker-task.js";
import { ArchiveWindow, CreatedModes, UnpackBudget, extractSmallEntry, type SmallJob, type Written } from "./extract-entry.js";

export interface WorkerInit {
  role: "gpm-extract";
  fd: number;
  size: number;
  maxUnpackedBytes: number;
  /** Shared Int32Array(1): non-zero means stop before the next entry. */
  stop: Int32Array;
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

export type BatchIn = { batch: number; jobs: SmallJob[] } | { end: true };
export type BatchOut = { batch: number; results: Written[] } | { batch: number; error: WorkerError } | { batch: number; stopped: true };

if (!isMainThread && parentPort && (workerData as Partial<WorkerInit> | null)?.role === "gpm-extract") {
  const port = parentPort;
  const init = workerData as WorkerInit;
  const win = new ArchiveWindow(init.fd, init.size);
  // Each worker's own count: every small entry is refused above its declared
  // size, and the declared sizes were checked against the limit up front, so
  // the threads together cannot pass it either.
  const budget = new UnpackBudget(init.maxUnpackedBytes);
  const modes = new CreatedModes();
  const collect = minorGc();
  port.on("message", (msg: BatchIn) => {
    if ("end" in msg) return port.close();
    const results: Written[] = [];
    let out: BatchOut = { batch: msg.batch, results };
    try {
      for (const job of msg.jobs) {
        if (stopRaised(init.stop)) {
          out = { batch: msg.batch, stopped: true };
          break;
        }
        results.push(extractSmallEntry(win, job, budget, modes));
        if (job.size >= COLLECT_AFTER_BYTES) collect();
      }
    } catch (err) {
      out = { batch: msg.batch, error: toWorkerError(err) };
    }
    port.postMessage(out);
  });
}
