import fsp from "node:fs/promises";
import path from "node:path";
import { GpmError, fail, errnoCode } from "../util/errors.js";
import { fsyncDir, readJsonIfExists, writeJsonDurable, resolveInside } from "../util/fsx.js";
import { mkdirp } from "../util/owner.js";
import type { Installation } from "../install/installation.js";
import { parseJournal } from "./journal-schema.js";
import { isSafeName } from "../store/names.js";
import { checkMoves, checkStatePath, JOURNAL_HINT } from "./containment.js";

/**
 * One planned move of a whole entry. Paths are relative to the root (POSIX
 * separators). The entry is identified by (dev, ino), which a rename keeps, so
 * after a crash we can tell from the disk alone where every entry is: at
 * `from` (move not made), at `to` (made), or — for a cross-device copy — by
 * the copy's identity recorded in `copies` before the copy was put in place.
 */
export interface Move {
  from: string;
  to: string;
  dev: number;
  ino: number;
  /** Birth time (statx btime): tells a recreated entry from the one planned when the inode number is reused. 0 where the file system has none. */
  birth?: number;
  /** A move whose entry may vanish on its own (cache contents): absent is not an error. */
  optional?: boolean;
}

/** What identifies an entry across renames. */
export interface EntryId {
  dev: number;
  ino: number;
  birth?: number;
}

export type TxKind = "upgrade" | "rollback";

/** user/ as a symbolic link when an upgrade's journal was written: its target as read, and the folder it resolved to. */
export interface UserLink {
  target: string;
  real: string;
}

/**
 * The journal is the single source of truth for a live change. It is written
 * (file and folder fsynced) BEFORE the first move, so a crash at any instant
 * after that finds it; and deleted only after the last effect is durable.
 *
 * phase
 *   applying   moves may have been made; recovery undoes them (all old).
 *   committed  the new tree passed its checks; recovery finishes (all new).
 *   undoing    an undo began; recovery continues it (undo is idempotent).
 */
export interface Journal {
  version: 1;
  kind: TxKind;
  manifestId: string;
  pid: number;
  createdAt: string;
  phase: "applying" | "committed" | "undoing";
  moves: Move[];
  /** Identity of cross-device copies, by move index (forward) — see fs-ops. */
  copies: Record<string, EntryId>;
  /** Identity of cross-device copies made while undoing, by move index. */
  undoCopies: Record<string, EntryId>;
  /** The maintenance flag this transaction raised (relative path); undo lowers it. */
  maintenanceFlag: string | null;
  /**
   * Set (durably) just before postUpgrade runs: from then on the release's own
   * code may have changed user/, so undo also puts user/ back from the snapshot.
   */
  postUpgradeStarted: boolean;
  /**
   * An upgrade's top-level names when the journal was written (lib/txn/appeared.ts
   * spells them): undo moves any other name that appeared meanwhile into the
   * snapshot, so the live tree is the pre-upgrade tree exactly. Absent: nothing to check.
   */
  topLevel?: string[];
  /**
   * An upgrade on a site whose user/ is a symbolic link: the link as it was
   * before anything moved. Undo after postUpgrade puts the content back behind
   * that same link, and refuses to write through any other (lib/txn/restore-user.ts).
   */
  userLink?: UserLink;
  /** Facts finalize needs if it has to be redone by recovery. */
  meta: {
    from: string | null;
    to: string | null;
    maintenanceOnAt: string | null;
    startedAt: string;
  };
}

export async function readJournal(inst: Installation): Promise<Journal | undefined> {
  let raw: unknown;
  try {
    raw = await readJsonIfExists<unknown>(inst.paths.journal);
  } catch (err) {
    // One line naming the file; the detail (not JSON, a FIFO…) goes in the hint with what to do.
    if (err instanceof GpmError) throw fail(`${inst.paths.journal} is corrupt`, `see docs/RECOVERY.md (a damaged journal): ${err.message}; gpm will not act on it — put back the journal from a backup, or finish the interrupted run by hand`);
    throw err;
  }
  if (raw === undefined) return undefined;
  const j = parseJournal(raw, inst.paths.journal);
  // Invariant 7: a journal is input too; none of its paths may leave the root.
  for (const m of j.moves) {
    resolveInside(inst.root, m.from, "journal move");
    resolveInside(inst.root, m.to, "journal move");
  }
  if (j.maintenanceFlag) resolveInside(inst.root, j.maintenanceFlag, "journal maintenance flag");
  // ...nor run through a link, nor move gpm's state or a preserved entry (lib/txn/containment.ts).
  const file = rel(inst, inst.paths.journal);
  if (!isSafeName(j.manifestId)) throw fail(`${file} is damaged: manifestId "${j.manifestId}" is not a manifest id; gpm will not act on it`, JOURNAL_HINT);
  if (j.kind !== "upgrade" && j.kind !== "rollback") throw fail(`${file} is damaged: kind "${String(j.kind)}" is not upgrade or rollback; gpm will not act on it`, JOURNAL_HINT);
  await checkMoves(inst, j.moves, { file, manifestId: j.manifestId, kind: j.kind, hint: JOURNAL_HINT });
  if (j.maintenanceFlag) await checkStatePath(inst, j.maintenanceFlag, file, JOURNAL_HINT);
  return j;
}

export async function writeJournal(inst: Installation, j: Journal): Promise<void> {
  await mkdirp(inst.paths.gpmDir);
  await writeJsonDurable(inst.paths.journal, j);
}

/** Remove the journal durably: the transaction is over once this returns. */
export async function removeJournal(inst: Installation): Promise<void> {
  try {
    await fsp.unlink(inst.paths.journal);
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
  }
  await fsyncDir(inst.paths.gpmDir);
}

export const abs = (inst: Installation, rel: string): string => path.join(inst.root, rel);
export const rel = (inst: Installation, p: string): string => path.relative(inst.root, p).split(path.sep).join("/");
