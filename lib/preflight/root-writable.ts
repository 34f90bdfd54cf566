import path from "node:path";
import { lstatOrNull } from "../util/fsx.js";
import { canWrite, nearestExisting } from "./fs-probe.js";
import { liveCoreEntries } from "./core-entries.js";
import { pass, failed, type CheckResult, type PreflightInput } from "./types.js";

export const ROOT_WRITABLE = "root-writable";

/**
 * Everything the upgrade will write must be writable by this process: the
 * root (core entries are renamed in and out of it), the snapshot store (or the
 * folder it will be created in), `.gpm/` and `user/data/upgrades/`. A core
 * *directory* must be writable itself too: moving a folder to another parent
 * rewrites its `..` entry, which Linux refuses on a read-only folder.
 * access(2) answers for read-only mounts as well as for modes.
 */
export async function checkRootWritable({ inst, installed }: PreflightInput): Promise<CheckResult> {
  const targets = new Set<string>([inst.root, (await nearestExisting(inst.paths.snapshots)).path, (await nearestExisting(inst.paths.upgradeRecords)).path]);
  if (await lstatOrNull(inst.paths.gpmDir)) targets.add(inst.paths.gpmDir);
  const core = await liveCoreEntries(inst, installed);
  for (const name of core.names) {
    const p = path.join(inst.root, name);
    if ((await lstatOrNull(p))?.isDirectory()) targets.add(p);
  }
  const blocked: string[] = [];
  for (const t of targets) if (!(await canWrite(t))) blocked.push(t);
  const uid = typeof process.getuid === "function" ? ` (uid ${process.getuid()})` : "";
  if (blocked.length > 0) {
    const shown = blocked.map((p) => path.relative(inst.root, p) || inst.root);
    return failed(ROOT_WRITABLE, `not writable by this user${uid}: ${shown.join(", ")}`, `give the user running gpm write access to ${blocked.length === 1 ? "it" : "them"} (e.g. chown or chmod u+w), or run gpm as the site's owner`);
  }
  return pass(ROOT_WRITABLE, `the root, the snapshot store and ${core.names.length} core entr${core.names.length === 1 ? "y" : "ies"} are writable`);
}
