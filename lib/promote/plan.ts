import path from "node:path";
import type { Installation } from "../install/installation.js";
import { preservedNames } from "../install/installation.js";
import { planMove } from "../txn/transaction.js";
import type { Move } from "../txn/journal.js";
import { snapshotPaths } from "../store/paths.js";
import { errnoCode } from "../util/errors.js";
import { mkdirp } from "../util/owner.js";
import { listNames, lstatOrNull } from "../util/fsx.js";

/**
 * The one rule of what an upgrade swaps: every top-level entry of the package
 * that is not preserved, and every entry that was core in the installed
 * release (its manifest says so) and is gone from the new one.
 */
function coreOf(inst: Installation, packageEntries: readonly string[], previousCore: readonly string[]): { core: string[]; dropped: string[] } {
  const preserved = preservedNames(inst);
  const core = packageEntries.filter((e) => !preserved.has(e)).sort();
  const dropped = previousCore.filter((e) => !preserved.has(e) && !core.includes(e)).sort();
  return { core, dropped };
}

/** What an upgrade would do to each top-level entry (`self-upgrade --dry-run`); reads only. */
export interface EntryChanges {
  /** In the package, not live yet. */
  added: string[];
  /** Live now; the package's copy takes its place (the live one goes to the snapshot). */
  replaced: string[];
  /** Core in the installed release, gone from the new one: moved into the snapshot. */
  removed: string[];
}

export async function entryChanges(inst: Installation, packageEntries: readonly string[], previousCore: readonly string[]): Promise<EntryChanges> {
  const { core, dropped } = coreOf(inst, packageEntries, previousCore);
  const live = async (e: string): Promise<boolean> => (await lstatOrNull(path.join(inst.root, e))) !== null;
  const out: EntryChanges = { added: [], replaced: [], removed: [] };
  for (const e of core) ((await live(e)) ? out.replaced : out.added).push(e);
  for (const e of dropped) if (await live(e)) out.removed.push(e);
  return out;
}

export interface UpgradePlan {
  moves: Move[];
  /** Top-level entries swapped: put live from the package, or moved aside because the new release dropped them. */
  core: string[];
  dropped: string[];
  /** clearOnPromote folders whose contents are moved aside. */
  cleared: string[];
}

/**
 * The swap of an upgrade, as whole-entry moves (O(top-level entries), never
 * O(files)). For each core entry of the package: the live one (if any) goes
 * to `<snapshot>/previous/`, then the staged one takes its place — per entry,
 * so each name is missing for one rename at most. Entries that were core in
 * the installed release and are gone from the new one go to `previous/` too.
 * Preserved and foreign entries are not in the plan at all (invariant 4); the
 * contents of clearOnPromote folders are moved to `<snapshot>/cleared/`.
 */
export async function planUpgrade(inst: Installation, o: { id: string; packageEntries: string[]; previousCore: string[] }): Promise<UpgradePlan> {
  const sp = snapshotPaths(inst, o.id);
  const { core, dropped } = coreOf(inst, o.packageEntries, o.previousCore);
  await mkdirp(sp.previous);

  const moves: Move[] = [];
  for (const e of core) {
    const aside = await planMove(inst, e, `${sp.rel.previous}/${e}`);
    if (aside) moves.push(aside);
    const install = await planMove(inst, `${sp.rel.package}/${e}`, e);
    if (!install) throw new Error(`staged entry ${e} is missing from ${sp.rel.package}`);
    moves.push(install);
  }
  const droppedPresent: string[] = [];
  for (const e of dropped) {
    const aside = await planMove(inst, e, `${sp.rel.previous}/${e}`);
    if (aside) {
      moves.push(aside);
      droppedPresent.push(e);
    }
  }
  const cleared: string[] = [];
  for (const c of inst.config.clearOnPromote) {
    if (core.includes(c.split("/")[0]!)) continue; // replaced whole anyway
    let names: string[];
    try {
      names = await listNames(path.join(inst.root, c));
    } catch (err) {
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") continue;
      throw err;
    }
    await mkdirp(path.join(sp.cleared, c));
    for (const n of names) {
      const m = await planMove(inst, `${c}/${n}`, `${sp.rel.cleared}/${c}/${n}`, true);
      if (m) moves.push(m);
    }
    cleared.push(c);
  }
  return { moves, core: [...core, ...droppedPresent].sort(), dropped: droppedPresent, cleared };
}
