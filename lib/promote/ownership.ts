import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Move } from "../txn/journal.js";
import { lstatOrNull } from "../util/fsx.js";

/**
 * When gpm runs as root, each staged entry takes the owner and group of the
 * live entry it will replace (SPEC section 5), so the web server user keeps
 * its access. Done on the staged tree before the maintenance window, so the
 * swap itself stays a handful of renames.
 */
export async function keepOwnership(inst: Installation, moves: Move[]): Promise<void> {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return;
  for (const m of moves) {
    // An install move (package/X -> X) whose X currently exists live.
    if (!m.from.includes("/package/")) continue;
    const live = await lstatOrNull(path.join(inst.root, m.to));
    // Unpacked by this process, the staged tree already has our uid/gid: nothing to do then.
    if (!live || (live.uid === process.getuid() && live.gid === process.getgid?.())) continue;
    await chownTree(path.join(inst.root, m.from), live.uid, live.gid);
  }
}

async function chownTree(p: string, uid: number, gid: number): Promise<void> {
  await fsp.lchown(p, uid, gid);
  const st = await fsp.lstat(p);
  if (!st.isDirectory()) return;
  for (const name of await fsp.readdir(p)) await chownTree(path.join(p, name), uid, gid);
}
