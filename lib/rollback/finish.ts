import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { removeTree } from "../util/fsx.js";
import { readManifest, writeManifest, type Manifest } from "../store/manifest.js";
import { snapshotPaths, SWAP_SCRATCH_NAMES } from "../store/paths.js";
import { finishSwap } from "../txn/run.js";
import type { Journal } from "../txn/journal.js";

/**
 * Finish a committed swap; idempotent (recovery calls it too): the manifest's
 * status follows which tree is live, and the swap is recorded once (keyed by
 * the journal's createdAt).
 */
export async function finalizeRollback(inst: Installation, j: Journal, log: Logger): Promise<{ manifest: Manifest; downtimeMs: number }> {
  const m = await readManifest(inst, j.manifestId);
  if (!m) throw new Error(`manifest ${j.manifestId} vanished during rollback`);
  const goingLive = j.meta.to;
  let downtimeMs = 0;
  await finishSwap(inst, j, {
    metadata: { installation_version: goingLive },
    manifest: async (d) => {
      downtimeMs = d ?? 0;
      m.status = goingLive === m.from ? "swapped" : "finalized";
      if (!m.swaps.some((s) => s.at === j.createdAt)) m.swaps.push({ at: j.createdAt, live: goingLive, downtimeMs });
      await writeManifest(inst, m);
    },
    scratch: () => removeSwapScratch(inst, m.id),
  });
  log.info({ id: m.id, live: goingLive, downtimeMs }, `swapped with snapshot ${m.id}: ${goingLive} is live`);
  return { manifest: m, downtimeMs };
}

/** A swap's scratch folders: once its journal is finished or undone they hold nothing but cache contents. */
export async function removeSwapScratch(inst: Installation, id: string): Promise<void> {
  const dir = snapshotPaths(inst, id).dir;
  for (const n of SWAP_SCRATCH_NAMES) await removeTree(path.join(dir, n));
}
