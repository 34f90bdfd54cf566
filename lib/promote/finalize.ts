import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { removeTree } from "../util/fsx.js";
import { readManifest, writeManifest, type Manifest } from "../store/manifest.js";
import { snapshotPaths, stagedLeftoverNames } from "../store/paths.js";
import { mirrorRecords } from "../store/records.js";
import { finishSwap } from "../txn/run.js";
import type { Journal } from "../txn/journal.js";
import { pruneSnapshots } from "./retention.js";
import path from "node:path";
import { openFatalWindow } from "../web/guard.js";

/**
 * Finish a committed upgrade: the runner's finishing steps (lib/txn/run.ts:
 * metadata, flag down, manifest, records, journal, leftovers), each
 * idempotent, so repair calls this same function to finish one that was
 * killed here. Old snapshots are pruned last (nothing a journal needs).
 */
export async function finalizeUpgrade(
  inst: Installation,
  j: Journal,
  o: { log: Logger; timings?: Record<string, number>; smoke?: Manifest["smoke"] },
): Promise<Manifest> {
  const t0 = Date.now();
  const m = await readManifest(inst, j.manifestId);
  if (!m) throw new Error(`manifest ${j.manifestId} vanished during finalize`);
  const now = new Date().toISOString();
  await finishSwap(inst, j, {
    metadata: { installation_version: m.to, last_upgraded: now },
    manifest: async (downtimeMs) => {
      m.status = "finalized";
      m.finishedAt = m.finishedAt ?? now;
      if (downtimeMs !== null && m.downtimeMs === null) m.downtimeMs = downtimeMs;
      if (o.smoke !== undefined) m.smoke = o.smoke;
      m.timings = { ...m.timings, ...o.timings };
      m.swapMs = m.timings.swap ?? m.swapMs ?? null;
      m.timings.finalize = (m.timings.finalize ?? 0) + (Date.now() - t0);
      await writeManifest(inst, m);
    },
    scratch: () => removeStagedLeftovers(inst, m.id),
    // Before the flag comes down: the first request of the new release already runs under the guard's window.
    beforeFlagDown: () => openFatalWindow(inst, m.id, m.to),
  });
  // Records mirror the store: pruning removed manifests, so mirror again.
  if ((await pruneSnapshots(inst, o.log)).length) await mirrorRecords(inst);
  return m;
}

/** What a finished or undone upgrade no longer needs (store/paths.ts stagedLeftoverNames). */
export async function removeStagedLeftovers(inst: Installation, id: string, alsoSnapshot = false): Promise<void> {
  const dir = snapshotPaths(inst, id).dir;
  for (const n of stagedLeftoverNames(alsoSnapshot)) await removeTree(path.join(dir, n));
}
