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
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { stopRaised, toWorkerError, type WorkerError } from "../util/worker-task.js";
import { ArchiveWindow, CreatedModes, UnpackBudget, extractSmallEntry, type SmallJob } from "./extract-entry.js";

export interface WorkerInit {
  role: "gpm-extract";
  fd: number;
  size: number;
  maxUnpackedBytes: number;
  /** Shared Int32Array(1): non-zero means stop before the next entry. */
  stop: Int32Array;
}
export type BatchIn = { batch: number; jobs: SmallJob[] } | { end: true };
export type BatchOut = { batch: number; results: { sha256: string; size: number }[] } | { batch: number; error: WorkerError } | { batch: number; stopped: true };

if (!isMainThread && parentPort && (workerData as Partial<WorkerInit> | null)?.role === "gpm-extract") {
  const port = parentPort;
  const init = workerData as WorkerInit;
  const win = new ArchiveWindow(init.fd, init.size);
  // Each worker's own count: every small entry is refused above its declared
  // size, and the declared sizes were checked against the limit up front, so
  // the threads together cannot pass it either.
  const budget = new UnpackBudget(init.maxUnpackedBytes);
  const modes = new CreatedModes();
  port.on("message", (msg: BatchIn) => {
    if ("end" in msg) return port.close();
    const results: { sha256: string; size: number }[] = [];
    let out: BatchOut = { batch: msg.batch, results };
    try {
      for (const job of msg.jobs) {
        if (stopRaised(init.stop)) {
          out = { batch: msg.batch, stopped: true };
          break;
        }
        results.push(extractSmallEntry(win, job, budget, modes));
      }
    } catch (err) {
      out = { batch: msg.batch, error: toWorkerError(err) };
    }
    port.postMessage(out);
  });
}
