/**
 * Loaded with `node --import <this file> bin/gpm …` by the benchmark: on exit,
 * writes the process's peak resident set size (KiB) and CPU time (µs, user
 * and system), from getrusage, to the file named by GPM_BENCH_RSS_FILE. Only
 * gpm's own process is measured, not the children it spawns (sync, php, the
 * smoke check).
 */
import fs from "node:fs";
import { isMainThread } from "node:worker_threads";

// Workers inherit --import: only the main thread writes (the figures are the process's anyway).
const out = process.env.GPM_BENCH_RSS_FILE;
if (out && isMainThread) {
  process.on("exit", () => {
    try {
      const u = process.resourceUsage();
      fs.writeFileSync(out, JSON.stringify({ maxRssKiB: u.maxRSS, userCpuUs: u.userCPUTime, systemCpuUs: u.systemCPUTime }));
    } catch {
      // A benchmark aid must never change how gpm exits.
    }
  });
}
