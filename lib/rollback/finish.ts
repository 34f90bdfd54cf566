import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { removeTree } from "../util/fsx.js";
import { readManifest, writeManifest, type Manifest } from "../store/manifest.js";
import { snapshotPaths, SWAP_SCRATCH_NAMES } from "../store/paths.js";
import { finishSwap } from "../txn/run.js";
import type { Journal } from "../txn/journal.js";
import { reapplyQuarantine } from "../recovery-mode/quarantine.js";

/**
 * Finish a committed swap; idempotent (recovery calls it too): the manifest's
 * status follows which tree is live, and the swap is recorded once (keyed by
 * the journal's createdAt).
 */
export async function finalizeRollback(inst: Installation, j: Journal, log: Logger): Promise<{ manifest: Manifest; downtimeMs: number; withUser: boolean; requarantined: string[] }> {
  const m = await readManifest(inst, j.manifestId);
  if (!m) throw new Error(`manifest ${j.manifestId} vanished during rollback`);
  const goingLive = j.meta.to;
  let downtimeMs = 0;
  let requarantined: string[] = [];
  // Whether user/ was swapped is read off the journal's moves, so that repair finishes a killed run the same way.
  const withUser = j.moves.some((mv) => mv.to === snapshotPaths(inst, m.id).rel.swapUser);
  await finishSwap(inst, j, {
    metadata: { installation_version: goingLive },
    manifest: async (d) => {
      downtimeMs = d ?? 0;
      m.status = goingLive === m.from ? "swapped" : "finalized";
      // user/config came back from the snapshot: a plugin quarantined since must stay disabled (SPEC
      // section 8). Before the manifest and the journal's removal, so a run killed here redoes it.
      if (withUser) requarantined = await reapplyQuarantine(inst);
      if (!m.swaps.some((s) => s.at === j.createdAt)) m.swaps.push({ at: j.createdAt, live: goingLive, user: withUser, downtimeMs });
      // The user/ it replaced now lives only in this snapshot: retention must never take it.
      // Pinned in the same durable write as the swap record, so no state has one without the other.
      if (withUser) m.pinned = true;
      await writeManifest(inst, m);
    },
    scratch: () => removeSwapScratch(inst, m.id),
  });
  log.info({ id: m.id, live: goingLive, downtimeMs }, `swapped with snapshot ${m.id}: ${goingLive} is live`);
  if (requarantined.length) log.info({ plugins: requarantined }, `quarantined plugins disabled again: ${requarantined.join(", ")}`);
  return { manifest: m, downtimeMs, withUser, requarantined };
}

/** A swap's scratch folders: once its journal is finished or undone they hold nothing but cache contents. */
export async function removeSwapScratch(inst: Installation, id: string): Promise<void> {
  const dir = snapshotPaths(inst, id).dir;
  for (const n of SWAP_SCRATCH_NAMES) await removeTree(path.join(dir, n));
}
