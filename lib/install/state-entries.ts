import path from "node:path";
import { fail } from "../util/errors.js";
import { lstatOrNull } from "../util/fsx.js";
import type { Installation } from "./installation.js";

/**
 * gpm's own places in the root must be what gpm made them, checked before any
 * command reads or writes through them (SPEC section 1, containment): anyone
 * who can write the root can put a link there, and a `.gpm/` or `snapshots/`
 * that is a link to elsewhere would get the stage, the user/ copy, the
 * metadata and the recovery key written wherever it points.
 *
 * - `.gpm/` and the snapshot store (every segment of `snapshotDir`) are real
 *   folders when they exist: a link (to anywhere) or a file is refused.
 * - The maintenance and recovery flags are regular files when they exist: a
 *   folder or a FIFO there is someone else's, which gpm must neither read as
 *   its flag (a FIFO blocks) nor remove.
 */
export async function checkStateEntries(inst: Installation): Promise<void> {
  const rel = (p: string): string => path.relative(inst.root, p) || ".";
  const folder = async (p: string, key: string): Promise<void> => {
    const st = await lstatOrNull(p);
    if (!st || st.isDirectory()) return;
    const what = st.isSymbolicLink() ? "a symbolic link" : "not a folder";
    throw fail(
      `${rel(p)} (${key}) is ${what}; gpm keeps its state only in a real folder inside the root and writes nothing through a link`,
      `replace ${rel(p)} with a real folder (move what it points to back into the root), or set ${key === ".gpm" ? "--root" : "snapshotDir in gpm.json"} to a real folder`,
    );
  };
  await folder(inst.paths.gpmDir, ".gpm");
  // Each segment: `var/snapshots` with `var` a link leads out just the same.
  const segments = path.relative(inst.root, inst.paths.snapshots).split(path.sep);
  for (let i = 1; i <= segments.length; i++) await folder(path.join(inst.root, ...segments.slice(0, i)), "snapshotDir");
  for (const [p, key] of [[inst.paths.maintenanceFlag, "maintenanceFlag"], [inst.paths.recoveryFlag, "recoveryFlag"]] as const) {
    const st = await lstatOrNull(p);
    if (!st || st.isFile()) continue;
    const kind = st.isDirectory() ? "a folder" : st.isSymbolicLink() ? "a symbolic link" : st.isFIFO() ? "a FIFO" : "a special file";
    throw fail(
      `${rel(p)} (${key}) is ${kind}, not gpm's flag file; gpm will not read or remove it`,
      `move ${rel(p)} out of the way (gpm writes that file itself), or set ${key} in gpm.json to another path`,
    );
  }
}
