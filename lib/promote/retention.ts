import fsp from "node:fs/promises";
import path from "node:path";
import { killPoint } from "../util/seams.js";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { listManifests, snapshotDir, type Manifest } from "../store/manifest.js";
import { readJournal } from "../txn/journal.js";
import { installedVersion } from "../install/installation.js";
import { usableToKeep } from "../store/way-back.js";

/** A pruned snapshot on its way out (recovery finishes deleting it). */
export const PRUNED_PREFIX = ".pruned-";

/**
 * Keep the `keep` newest usable snapshots (finalized or swapped: the ones a
 * rollback can use) and, separately, the `keep` newest records of failed
 * attempts (already emptied: manifest and log only), so that a run of failed
 * attempts can never push a good rollback point out. Never deletes a pinned
 * snapshot, the way back from the live tree, or the snapshot an open journal
 * still needs (invariant 6).
 */
export async function pruneSnapshots(inst: Installation, log: Logger): Promise<string[]> {
  const journal = await readJournal(inst);
  const all = await listManifests(inst);
  const usable = (m: Manifest): boolean => m.status === "finalized" || m.status === "swapped";
  const beyond = (list: Manifest[]): Manifest[] => list.slice(0, Math.max(0, list.length - inst.config.keep));
  // Usable ones: lib/store/way-back.ts decides (pins, the way back, the live tree's source).
  const keepUsable = usableToKeep(all, await installedVersion(inst), inst.config.keep);
  const doomed = [...all.filter((m) => usable(m) && !keepUsable.has(m.id)), ...beyond(all.filter((m) => m.status === "failed" || m.status === "restored"))];
  const removed: string[] = [];
  for (const m of doomed) {
    if (journal?.manifestId === m.id) continue;
    // Out of the store first (one rename), then delete: a run killed mid-delete
    // must not leave a manifest over a half-deleted tree that a rollback would trust.
    const trash = path.join(inst.paths.snapshots, `${PRUNED_PREFIX}${m.id}`);
    await fsp.rm(trash, { recursive: true, force: true });
    await fsp.rename(snapshotDir(inst, m.id), trash);
    killPoint("retention:snapshot-moved-aside");
    await fsp.rm(trash, { recursive: true, force: true });
    log.info({ id: m.id }, `pruned snapshot ${m.id}`);
    removed.push(m.id);
  }
  return removed;
}
