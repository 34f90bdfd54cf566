import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import { preservedNames } from "../install/installation.js";
import { fail, errnoCode } from "../util/errors.js";
import type { Move, TxKind } from "./journal.js";
import { fsPath } from "../util/byte-names.js";

/**
 * Invariant 7 for gpm's own state (SPEC section 1, Containment): anyone who
 * can write the root can edit `.gpm/journal.json` or a manifest, so every
 * path a move takes from them is checked before anything moves:
 *
 *   - lexically: relative, no `.`/`..`/empty segment, inside the root;
 *   - on disk, segment by segment below the root: no folder on the way is a
 *     symbolic link (the entry itself may be one: user/ as a link is swapped
 *     as the link). A link anywhere on the way is refused, wherever it points;
 *   - by place: inside the snapshot store only below this transaction's own
 *     snapshot; never gpm's state (`.gpm`, `gpm.json`, the maintenance flag,
 *     the store itself); never a preserved entry — except user/ whole in a
 *     rollback's swap, and the contents of a clearOnPromote folder.
 *
 * A refusal is one line naming the state file (exit 1); nothing has moved.
 */
export interface MoveSource {
  /** The state file the moves come from (relative to the root, for the message). */
  file: string;
  manifestId: string;
  kind: TxKind;
  /** What to do about it. */
  hint: string;
}

const posix = (p: string): string => p.split(path.sep).join("/");

/** Why `p` (relative to the root) may not be a move's end, or null when it may. */
async function refusal(inst: Installation, p: string, src: MoveSource): Promise<string | null> {
  const segs = p.split("/");
  if (path.isAbsolute(p) || p.includes("\\") || p.includes("\0") || segs.some((s) => s === "" || s === "." || s === "..")) return `"${p}" is not a plain relative path`;
  // A link on the way first: it says the most about what was edited.
  const link = await linkOnTheWay(inst, segs);
  if (link) return link;
  const store = posix(path.relative(inst.root, inst.paths.snapshots));
  const own = `${store}/${src.manifestId}/`;
  if (p === store || p.startsWith(store + "/")) return p.startsWith(own) && p.length > own.length ? null : `"${p}" is in the snapshot store outside snapshot ${src.manifestId}`;
  const top = segs[0]!;
  const state = new Set([".gpm", "gpm.json", inst.config.maintenanceFlag.split(/[\\/]/).filter(Boolean)[0]!]);
  if (state.has(top)) return `"${p}" is gpm's own state`;
  if (preservedNames(inst).has(top)) {
    const userTop = posix(path.relative(inst.root, inst.paths.user));
    const userSwap = segs.length === 1 && p === userTop && src.kind === "rollback";
    const cleared = inst.config.clearOnPromote.some((c) => posix(path.dirname(p)) === c.replace(/\/+$/, ""));
    if (!userSwap && !cleared) return `"${p}" is preserved (${top}), never moved`;
  }
  return null;
}

/** The first folder on the way to the entry that is a symbolic link (or not a folder), as a reason. */
async function linkOnTheWay(inst: Installation, segs: string[]): Promise<string | null> {
  let at = inst.root;
  for (let i = 0; i < segs.length - 1; i++) {
    at = path.join(at, segs[i]!);
    let st;
    try {
      st = await fsp.lstat(fsPath(at));
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return null; // nothing further can be a link
      throw err;
    }
    const where = segs.slice(0, i + 1).join("/");
    if (st.isSymbolicLink()) return `runs through the symbolic link ${where}`;
    if (!st.isDirectory()) return `runs through ${where}, which is not a folder`;
  }
  return null;
}

/** Refuse the whole list when any move's source or target may not be moved (see above). */
export async function checkMoves(inst: Installation, moves: readonly Pick<Move, "from" | "to">[], src: MoveSource): Promise<void> {
  for (const m of moves) {
    for (const p of [m.from, m.to]) {
      const why = await refusal(inst, p, src);
      if (why) throw fail(`${src.file}: the move ${m.from} → ${m.to} ${why.startsWith("runs") ? why : `is refused: ${why}`}; gpm will not act on it`, src.hint);
    }
  }
}

/** A path gpm writes or removes from a state file (the journal's maintenance flag): no link on the way. */
export async function checkStatePath(inst: Installation, p: string, file: string, hint: string): Promise<void> {
  const why = await linkOnTheWay(inst, p.split("/"));
  if (why) throw fail(`${file}: ${p} ${why}; gpm will not act on it`, hint);
}

/** The hint for a refused journal. */
export const JOURNAL_HINT = "put back the journal from a backup, or finish the interrupted run by hand as docs/RECOVERY.md (a damaged journal) describes";
