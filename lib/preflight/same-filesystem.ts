import { fsPath } from "../util/byte-names.js";
import fsp from "node:fs/promises";
import path from "node:path";
import { nearestExisting } from "./fs-probe.js";
import { liveCoreEntries } from "./core-entries.js";
import { pass, failed, type CheckResult, type PreflightInput } from "./types.js";

export const SAME_FILESYSTEM = "same-filesystem";

/**
 * Promote and rollback are renames between the root and the snapshot store,
 * atomic only within one file system. Links are followed, as rename(2) would:
 * a `snapshots` link to another disk is another disk. A core entry that is a
 * mount point cannot be renamed either.
 */
export async function checkSameFilesystem({ inst, installed }: PreflightInput): Promise<CheckResult> {
  const rootDev = (await fsp.stat(inst.root)).dev;
  const store = await nearestExisting(inst.paths.snapshots);
  if (store.stats.dev !== rootDev) {
    const real = await fsp.realpath(store.path);
    const shown = real === store.path ? store.path : `${store.path} (${real})`;
    return failed(SAME_FILESYSTEM, `the snapshot store ${shown} is on another file system than the root ${inst.root}`, "promote needs atomic renames; set snapshotDir to a folder on the same file system");
  }
  const mounted: string[] = [];
  for (const name of (await liveCoreEntries(inst, installed)).names) {
    const st = await fsp.lstat(fsPath(path.join(inst.root, name)));
    if (st.dev !== rootDev) mounted.push(name);
  }
  if (mounted.length > 0) {
    return failed(SAME_FILESYSTEM, `core entries on another file system (mount points): ${mounted.join(", ")}`, "promote needs atomic renames; unmount them or make them plain folders of the root's file system");
  }
  return pass(SAME_FILESYSTEM, `the snapshot store and the root share a file system`);
}
