import fsp from "node:fs/promises";
import { treeSize } from "../util/fsx.js";
import { nearestExisting } from "./fs-probe.js";
import { pass, warn, failed, type CheckResult, type PreflightInput } from "./types.js";

export const DISK_SPACE = "disk-space";

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * Staging needs, on the snapshot store's file system (the root's, when
 * same-filesystem passes): the zip, its unpacked tree and the copy of user/.
 * The unpacked size is unknown before download, so it is counted as twice the
 * zip (zip + unpacked = 3 x size, conservatively), plus 10% margin.
 */
export async function checkDiskSpace({ inst, release }: PreflightInput): Promise<CheckResult> {
  const where = await nearestExisting(inst.paths.snapshots);
  const fsStats = await fsp.statfs(where.path);
  const free = fsStats.bavail * fsStats.bsize;
  const user = await treeSize(inst.paths.user);
  const pkg = release.size ?? 0;
  // Allocated bytes: a sparse file's copy keeps its holes (lib/stage/snapshot-user.ts).
  const need = Math.ceil((pkg * 3 + user.allocated) * 1.1);
  const sum = `need ${formatBytes(need)} (package ${release.size === null ? "size unknown" : formatBytes(pkg)} x 3 + user/ ${formatBytes(user.allocated)} + 10%), ${formatBytes(free)} free on ${where.path}`;
  if (free < need) return failed(DISK_SPACE, `not enough disk space: ${sum}`, `free at least ${formatBytes(need - free)} on that file system (older snapshots go with a lower "keep" in gpm.json)`);
  if (release.size === null) return warn(DISK_SPACE, `the feed does not give the package size; ${sum}`, "make sure there is room for about 3 times the package size as well");
  return pass(DISK_SPACE, sum);
}
