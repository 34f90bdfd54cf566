import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import { lstatOrNull } from "../util/fsx.js";
import { isValidId, listManifests } from "../store/manifest.js";
import { snapshotPaths, stagedLeftoverNames, STAGE_NAMES } from "../store/paths.js";
import { readJournal } from "../txn/journal.js";
import { PRUNED_PREFIX } from "../promote/retention.js";

/**
 * Snapshot folders with something a finished run would not leave: a stage
 * that never reached promote (status staged, or no manifest yet), or the
 * archive/package of a finished or failed one. Only folders named like a
 * manifest id and holding a stage's files are considered ours.
 */
export async function findLeftovers(inst: Installation): Promise<string[]> {
  const names = await fsp.readdir(inst.paths.snapshots).catch(() => [] as string[]);
  const journal = await readJournal(inst).catch(() => undefined);
  const out: string[] = [];
  const manifests = new Map((await listManifests(inst)).map((m) => [m.id, m]));
  for (const id of names) {
    if (!isValidId(id) || journal?.manifestId === id) continue;
    if (id.startsWith(PRUNED_PREFIX)) {
      out.push(id); // retention was killed between moving it aside and deleting it
      continue;
    }
    const sp = snapshotPaths(inst, id);
    const dir = sp.dir;
    const hasStageFiles = (await lstatOrNull(sp.archive)) || (await lstatOrNull(sp.package));
    const m = manifests.get(id);
    if (m && ((await lstatOrNull(sp.swap)) || (await lstatOrNull(sp.swapCleared)))) {
      out.push(id); // a swap whose journal is gone left its scratch folders
      continue;
    }
    if (!m) {
      // A stage killed before its manifest: it holds nothing but what staging writes.
      const names = await fsp.readdir(dir).catch(() => null);
      if (hasStageFiles || names?.every((n) => STAGE_NAMES.has(n))) out.push(id);
      continue;
    }
    // Any of what finalize (or a failed attempt's cleanup) removes, left because it was killed part-way.
    const failedAttempt = m.status === "failed" || m.status === "restored";
    let left = m.status === "staged";
    for (const n of stagedLeftoverNames(failedAttempt)) left ||= (await lstatOrNull(path.join(dir, n))) !== null;
    if (left) out.push(id);
  }
  return out;
}

/** write-file-atomic leaves `journal.json.<n>` if killed mid-write: never a journal, always safe to drop. */
export async function removeStrayJournalTemps(inst: Installation): Promise<void> {
  const base = path.basename(inst.paths.journal);
  for (const n of await fsp.readdir(inst.paths.gpmDir).catch(() => [] as string[])) {
    if (n.startsWith(base + ".")) await fsp.rm(path.join(inst.paths.gpmDir, n), { force: true });
  }
}

