import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Move } from "../txn/journal.js";
import { lstatOrNull } from "../util/fsx.js";
import { chownTree, ownerFor, runningAsRoot, type Owner } from "../util/owner.js";

/**
 * When gpm runs as root, each staged entry takes the owner and group of the
 * live entry it will replace, and a new one (no live entry yet) those of the
 * root folder (SPEC section 1), so the web server user keeps its access. Done
 * on the staged tree before the maintenance window, so the swap itself stays
 * a handful of renames.
 */
export async function keepOwnership(inst: Installation, moves: Move[]): Promise<void> {
  if (!runningAsRoot()) return;
  const mine = (o: Owner): boolean => o.uid === process.getuid?.() && o.gid === process.getgid?.();
  for (const m of moves) {
    // An install move (package/X -> X).
    if (!m.from.includes("/package/")) continue;
    const staged = path.join(inst.root, m.from);
    const live = await lstatOrNull(path.join(inst.root, m.to));
    const owner = live ?? ownerFor(path.join(inst.root, m.to));
    // Unpacked by this process, the staged tree already has our uid/gid: nothing to do then.
    if (owner && !mine(owner)) await chownTree(staged, owner);
    const pkg = path.dirname(staged);
    const top = ownerFor(pkg);
    if (top && (await lstatOrNull(pkg))?.uid !== top.uid) await fsp.lchown(pkg, top.uid, top.gid);
  }
}
