import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { snapshotPaths } from "../store/paths.js";
import { fsyncDir } from "../util/fsx.js";
import { killPoint } from "../util/seams.js";
import { mkdirp } from "../util/owner.js";
import { copyEntry, removeEntry, isExdev } from "./fs-ops.js";
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
 * other): a name that is valid UTF-8 is kept as itself, any other as
 * NUL + "x" + its hex (a NUL can be in no file name, so the two cannot meet).
 */
const HEX = "\0x";

export function nameKey(b: Buffer): string {
  const s = b.toString("utf8");
  return Buffer.from(s, "utf8").equals(b) ? s : HEX + b.toString("hex");
}

/** The top-level names now, as the journal records them. */
export async function topLevelNames(root: string): Promise<string[]> {
  return (await fsp.readdir(root, { encoding: "buffer" })).map(nameKey).sort();
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

const join = (dir: string, name: Buffer): Buffer => Buffer.concat([Buffer.from(dir + path.sep), name]);

/** Move every top-level entry the journal did not know into the snapshot (undo's last step on the tree). */
export async function setAsideAppeared(inst: Installation, j: Journal, log: Logger): Promise<void> {
  if (j.kind !== "upgrade" || !j.topLevel) return;
  const known = new Set(j.topLevel);
  const skip = stateNames(inst, j);
  const sp = snapshotPaths(inst, j.manifestId);
  const moved: string[] = [];
  for (const name of await fsp.readdir(inst.root, { encoding: "buffer" })) {
    const key = nameKey(name);
    if (known.has(key) || skip.has(key)) continue;
    await mkdirp(sp.appeared);
    let dest = join(sp.appeared, name);
    for (let n = 2; await present(dest); n++) dest = join(sp.appeared, Buffer.concat([name, Buffer.from(`.${n}`)]));
    const src = join(inst.root, name);
    try {
      await fsp.rename(src, dest);
    } catch (err) {
      // The store on another device (preflight warns of it): copy, then remove. fs.cp takes
      // string paths only, which a name that is not UTF-8 cannot be: such a one stays (logged).
      if (!isExdev(err) || key.startsWith(HEX)) throw err;
      await copyEntry(src.toString(), dest.toString());
      await removeEntry(src.toString());
    }
    moved.push(name.toString("utf8"));
  }
  if (!moved.length) return;
  await fsyncDir(inst.root);
  await fsyncDir(sp.appeared);
  killPoint("restore:appeared-moved");
  log.warn({ entries: moved }, `${moved.join(", ")} appeared in the live tree during the attempt; moved to ${path.relative(inst.root, sp.appeared)}/ so the tree is as it was`);
}

async function present(p: Buffer): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}
