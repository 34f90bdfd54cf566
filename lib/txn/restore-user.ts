import { renameEntry } from "./fs-ops.js";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { snapshotDir } from "../store/manifest.js";
import { lstatOrNull, fsyncDir } from "../util/fsx.js";
import { killPoint } from "../util/seams.js";

/**
 * After postUpgrade has run (the release's own code may have changed user/),
 * undo also puts user/ back from the snapshot (DESIGN invariant 4's one
 * exception). Two renames, each named uniquely, so the state after a crash is
 * read off the disk: the user/ it replaces is kept as
 * `<snapshot>/user-after-failure/` for inspection, never deleted.
 */
export async function restoreUserAfterPostUpgrade(inst: Installation, id: string, log: Logger): Promise<void> {
  const snapUser = path.join(snapshotDir(inst, id), "user");
  const kept = path.join(snapshotDir(inst, id), "user-after-failure");
  const live = inst.paths.user;
  if (!(await lstatOrNull(snapUser))) return; // already put back (or there was no user/ to copy)
  if ((await lstatOrNull(live)) && !(await lstatOrNull(kept))) await renameEntry(live, kept);
  killPoint("restore:user-moved-aside");
  if (!(await lstatOrNull(live))) await renameEntry(snapUser, live);
  await fsyncDir(inst.root);
  await fsyncDir(snapshotDir(inst, id));
  killPoint("restore:user-restored");
  log.warn(`user/ was put back from snapshot ${id}; the user/ left by postUpgrade is in ${path.relative(inst.root, kept)}`);
}
