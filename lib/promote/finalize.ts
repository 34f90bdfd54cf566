import path from "node:path";
import type { Installation } from "../install/installation.js";
import { updateMetadata } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { killPoint } from "../util/seams.js";
import { removeTree } from "../util/fsx.js";
import { readManifest, writeManifest, snapshotDir, type Manifest } from "../stage/manifest.js";
import { lowerMaintenanceFlag, endTransaction } from "../txn/transaction.js";
import type { Journal } from "../txn/journal.js";
import { mirrorRecords } from "./records.js";
import { pruneSnapshots } from "./retention.js";
import { openFatalWindow } from "../web/guard.js";

/**
 * Finish a committed upgrade. Every step is idempotent, so recovery calls the
 * same function to finish one that was killed here. Order: metadata first
 * (while the flag is still up, so nobody sees the new tree with the old
 * version), then the flag comes down (end of downtime), then the records;
 * the journal goes last, and only then are the staged leftovers deleted and
 * old snapshots pruned (nothing a journal needs).
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
  await updateMetadata(inst, { installation_version: m.to, last_upgraded: now });
  killPoint("finalize:metadata-written");
  // Before the flag comes down: the first request of the new release already runs under the guard's window.
  await openFatalWindow(inst, m.id, m.to);
  await lowerMaintenanceFlag(inst, j);
  const offAt = Date.now();
  killPoint("finalize:flag-lowered");
  const onAt = j.meta.maintenanceOnAt ? Date.parse(j.meta.maintenanceOnAt) : null;
  m.status = "finalized";
  m.finishedAt = m.finishedAt ?? now;
  if (onAt !== null && m.downtimeMs === null) m.downtimeMs = offAt - onAt;
  if (o.smoke !== undefined) m.smoke = o.smoke;
  m.timings = { ...m.timings, ...o.timings };
  m.timings.finalize = (m.timings.finalize ?? 0) + (Date.now() - t0);
  await writeManifest(inst, m);
  killPoint("finalize:manifest-written");
  await mirrorRecords(inst);
  killPoint("finalize:records-written");
  await endTransaction(inst);
  killPoint("finalize:journal-removed");
  await removeStagedLeftovers(inst, m.id);
  killPoint("finalize:leftovers-removed");
  // Records mirror the store: pruning removed manifests, so mirror again.
  if ((await pruneSnapshots(inst, o.log)).length) await mirrorRecords(inst);
  return m;
}

/**
 * What a finished or undone upgrade no longer needs: the archive, what is
 * left of the package (its preserved entries, never swapped), the cleared
 * cache contents. The snapshot proper (manifest, files.json, previous/, user/)
 * stays for rollback.
 */
export async function removeStagedLeftovers(inst: Installation, id: string, alsoSnapshot = false): Promise<void> {
  const dir = snapshotDir(inst, id);
  for (const n of stagedLeftoverNames(alsoSnapshot)) await removeTree(path.join(dir, n));
}

/** What removeStagedLeftovers removes (recovery looks for the same names to finish a killed removal). */
export function stagedLeftoverNames(alsoSnapshot: boolean): string[] {
  return ["package.zip", "package", "cleared", ...(alsoSnapshot ? ["previous", "user"] : [])];
}
