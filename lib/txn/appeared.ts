import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { snapshotPaths } from "../store/paths.js";
import { fsyncDir, listNames, lstatOrNull } from "../util/fsx.js";
import { legacyName } from "../util/byte-names.js";
import { killPoint } from "../util/seams.js";
import { mkdirp } from "../util/owner.js";
import { copyEntry, removeEntry, renameEntry, isExdev } from "./fs-ops.js";
import type { Journal } from "./journal.js";

/**
 * A failed upgrade is restored byte for byte (SPEC section 5, step 4): a
 * top-level entry that appeared in the live tree during the attempt (a
 * postUpgrade or smoke script that ran Composer leaves a `vendor/`) is not
 * part of the tree the journal puts back, so undo moves it into
 * `snapshots/<id>/appeared/` — kept, never deleted, out of the live tree.
 *
 * The journal is the only memory: it records the top-level names at the
 * moment it was written (`topLevel`), so repair after a crash does exactly
 * what the failing run would have. Each step is a rename, so it is
 * idempotent: what already left the root is not seen again.
 *
 * Names are read as bytes (an FTP upload in Latin-1 is a name like any
 * other) and spelled as lib/util/byte-names.ts defines; a journal written
 * before that spelled a non-UTF-8 name as NUL "x" hex, which still reads.
 */

/** The top-level names now, as the journal records them. */
export async function topLevelNames(root: string): Promise<string[]> {
  return (await listNames(root)).sort();
}

/** gpm's own state at the top level: never moved by this step (it is not the site's tree). */
function stateNames(inst: Installation, j: Journal): Set<string> {
  const top = (abs: string): string | null => {
    const r = path.relative(inst.root, abs);
    return r && !r.startsWith("..") && !path.isAbsolute(r) ? r.split(path.sep)[0]! : null;
  };
  const names = [".gpm", "gpm.json", top(inst.paths.snapshots), top(inst.paths.recoveryFlag), j.maintenanceFlag?.split("/")[0] ?? null];
  return new Set(names.filter((n): n is string => !!n));
}


/** Move every top-level entry the journal did not know into the snapshot (undo's last step on the tree). */
export async function setAsideAppeared(inst: Installation, j: Journal, log: Logger): Promise<void> {
  if (j.kind !== "upgrade" || !j.topLevel) return;
  const known = new Set(j.topLevel.map(legacyName));
  const skip = stateNames(inst, j);
  const sp = snapshotPaths(inst, j.manifestId);
  const moved: string[] = [];
  for (const name of await listNames(inst.root)) {
    if (known.has(name) || skip.has(name)) continue;
    await mkdirp(sp.appeared);
    let dest = path.join(sp.appeared, name);
    for (let n = 2; await lstatOrNull(dest); n++) dest = path.join(sp.appeared, `${name}.${n}`);
    const src = path.join(inst.root, name);
    try {
      await renameEntry(src, dest);
    } catch (err) {
      // The store on another device (preflight warns of it): copy, then remove (copyEntry
      // refuses a name that is not UTF-8, which fs.cp cannot reach: such a one stays).
      if (!isExdev(err)) throw err;
      await copyEntry(src, dest);
      await removeEntry(src);
    }
    moved.push(name);
  }
  if (!moved.length) return;
  await fsyncDir(inst.root);
  await fsyncDir(sp.appeared);
  killPoint("restore:appeared-moved");
  log.warn({ entries: moved }, `${moved.join(", ")} appeared in the live tree during the attempt; moved to ${path.relative(inst.root, sp.appeared)}/ so the tree is as it was`);
}
