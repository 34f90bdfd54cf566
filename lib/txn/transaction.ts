import path from "node:path";
import fsp from "node:fs/promises";
import type { Stats } from "node:fs";
import { fail, errnoCode, errorMessage } from "../util/errors.js";
import { fsyncDir, writeJsonDurable, lstatOrNull, resolveInside } from "../util/fsx.js";
import { checkAbort } from "../util/signals.js";
import { killPoint, killAfterMove } from "../util/seams.js";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { readJournal, writeJournal, removeJournal, abs, type Journal, type Move, type TxKind, type EntryId, type UserLink } from "./journal.js";
import { renameEntry, renameEntrySync, copyEntry, removeEntry, holds, holdsSync, identify, isExdev } from "./fs-ops.js";
import { mkdirp } from "../util/owner.js";
import { releaseDrain } from "../web/guard.js";
import { setAsideAppeared, topLevelNames } from "./appeared.js";
import { fsPath } from "../util/byte-names.js";
import { recordUserLink } from "./restore-user.js";

/**
 * THE one place that changes the live tree (DESIGN invariant 2).
 *
 * A transaction is a list of whole-entry moves, written to the journal once,
 * durably, before the first move (one fsync of file and folder, paid before
 * the maintenance window). Each move is a rename(2), atomic on one file
 * system, so at any instant every entry is wholly at its `from` or wholly at
 * its `to`; the journal records each entry's (dev, ino), which a rename keeps,
 * so undo works out from the disk which moves happened without a write per
 * step. Undo walks the moves backwards and renames back whatever is at its
 * `to`; it can itself be interrupted and run again (each step checks first).
 *
 * Only across devices (EXDEV) is an entry copied: the copy is built under a
 * `.gpm-partial` name, its identity is journaled, and only then is it renamed
 * into place and the source retired (renamed to `.gpm-moved`, then deleted).
 * So the source is intact at `from` until the copy is whole at `to`.
 */

const PARTIAL = ".gpm-partial";
const RETIRED = ".gpm-moved";

export interface BeginOptions {
  kind: TxKind;
  manifestId: string;
  moves: Move[];
  maintenanceFlag: string | null;
  from: string | null;
  to: string | null;
  /** Record the top-level names and a linked user/ (an upgrade: undo sets aside whatever appears besides them, and restores user/ behind its link). */
  recordTopLevel?: boolean;
}

const userLinkField = (l: UserLink | undefined): { userLink?: UserLink } => (l ? { userLink: l } : {});

/** Build the move of the entry now at `from`: records its identity. Returns null when it does not exist. */
export async function planMove(inst: Installation, from: string, to: string, optional = false): Promise<Move | null> {
  // Invariant 7 at the one place a name becomes a move: nothing may leave the root.
  resolveInside(inst.root, from, "move source");
  resolveInside(inst.root, to, "move target");
  const id = await identify(abs(inst, from));
  if (!id) return null;
  return { from, to, ...id, ...(optional ? { optional } : {}) };
}

/** Write the journal (durably) before anything live changes. */
export async function beginTransaction(inst: Installation, o: BeginOptions): Promise<Journal> {
  const j: Journal = {
    version: 1,
    kind: o.kind,
    manifestId: o.manifestId,
    pid: process.pid,
    createdAt: new Date().toISOString(),
    phase: "applying",
    moves: o.moves,
    copies: {},
    undoCopies: {},
    maintenanceFlag: o.maintenanceFlag,
    postUpgradeStarted: false,
    ...(o.recordTopLevel ? { topLevel: await topLevelNames(inst.root) } : {}),
    ...(o.recordTopLevel ? userLinkField(await recordUserLink(inst)) : {}),
    meta: { from: o.from, to: o.to, maintenanceOnAt: null, startedAt: new Date().toISOString() },
  };
  // Each destination must be free when its move comes (now, or vacated by an
  // earlier move): a rename onto an existing entry could replace it silently.
  const vacated = new Set<string>();
  for (const m of o.moves) {
    const freed = [...vacated].some((v) => m.to === v || m.to.startsWith(v + "/"));
    if (!freed && (await lstatOrNull(abs(inst, m.to)))) throw fail(`cannot move ${m.from}: ${m.to} already exists`, "see docs/RECOVERY.md");
    vacated.add(m.from);
  }
  await writeJournal(inst, j);
  killPoint(`${o.kind}:journal-written`);
  return j;
}

/** Raise the maintenance flag (the journal already names it, so undo lowers it). */
export async function raiseMaintenanceFlag(inst: Installation, j: Journal, content: Record<string, unknown>): Promise<number> {
  if (!j.maintenanceFlag) return Date.now();
  const file = abs(inst, j.maintenanceFlag);
  await mkdirp(path.dirname(file));
  await writeJsonDurable(file, content);
  const at = Date.now();
  killPoint(`${j.kind}:flag-raised`);
  return at;
}

export async function lowerMaintenanceFlag(inst: Installation, j: Journal): Promise<void> {
  if (!j.maintenanceFlag) return;
  const file = abs(inst, j.maintenanceFlag);
  await fsp.rm(file, { force: true });
  await fsyncDir(path.dirname(file));
  releaseDrain(); // the guard lets requests in again (lib/web/guard.ts)
}

/** Make every move, in order. Throws on the first failure or signal; the caller undoes. */
export async function applyMoves(inst: Installation, j: Journal, log: Logger): Promise<void> {
  for (let i = 0; i < j.moves.length; i++) {
    checkAbort();
    await moveForward(inst, j, i, log);
    killAfterMove();
  }
  await syncParents(inst, j.moves);
  killPoint(`${j.kind}:moves-applied`);
}

/** Set `phase` durably (committed: recovery will finish instead of undo). */
export async function setPhase(inst: Installation, j: Journal, phase: Exclude<Journal["phase"], "applying">): Promise<void> {
  j.phase = phase;
  await writeJournal(inst, j);
  killPoint(`${j.kind}:${phase}`);
}

/**
 * Undo every move that happened, newest first, then lower the flag and end
 * the journal. Idempotent: run it again after a crash and it continues.
 * Before the first rename back it marks the journal `undoing`, so a crash
 * during undo is resumed as an undo, never mistaken for a half-made apply.
 */
export async function undoTransaction(inst: Installation, j: Journal, log: Logger, extra?: () => Promise<void>): Promise<void> {
  if (j.phase !== "undoing") {
    try {
      await setPhase(inst, j, "undoing");
    } catch (err) {
      // A full disk (the very failure being undone, often) must not stop an undo,
      // which needs no space: renames and deletes. Going on is safe while the journal
      // on disk still says `applying`, which recovery undoes as well.
      if ((await readJournal(inst).catch(() => undefined))?.phase !== "applying") throw err;
      log.warn({ err: errorMessage(err) }, "could not mark the journal as undoing; undoing anyway");
    }
  }
  for (let i = j.moves.length - 1; i >= 0; i--) {
    await moveBack(inst, j, i, log);
    killPoint(`${j.kind}:undo-move`);
  }
  await syncParents(inst, j.moves);
  // Byte for byte: what appeared at the top level during the attempt goes into the snapshot.
  await setAsideAppeared(inst, j, log);
  if (extra) await extra();
  await lowerMaintenanceFlag(inst, j);
  killPoint(`${j.kind}:undo-flag-lowered`);
  await removeJournal(inst);
}

/** End a committed transaction: the journal goes last, when every effect is durable. */
export async function endTransaction(inst: Installation): Promise<void> {
  await removeJournal(inst);
}

async function moveForward(inst: Installation, j: Journal, i: number, log: Logger): Promise<void> {
  const m = j.moves[i]!;
  const from = abs(inst, m.from);
  const to = abs(inst, m.to);
  const ids = identities(j, i);
  // Synchronous checks and rename: the moves are the swap window, and each
  // awaited call was a thread-pool round trip — 14 moves of an upgrade took
  // ~3 ms, 18 of a rollback ~5-10 ms (42 lstat + 14 rename calls); as system
  // calls back to back they take a fraction of that. Nothing else needs the
  // event loop in these few ms (a signal is seen at the next checkAbort).
  if (holdsAnySync(to, ids)) {
    await retire(from, ids, j, i);
    return;
  }
  if (!holdsAnySync(from, ids)) {
    if (m.optional) return;
    throw fail(`${m.from} changed or vanished during the transaction`, "nothing was lost: gpm restores the previous tree");
  }
  try {
    renameEntrySync(from, to);
  } catch (err) {
    if (!isExdev(err)) throw err;
    log.warn({ from: m.from, to: m.to }, "rename crosses devices; copying instead (slower, still journaled)");
    await copyAcross(inst, j, i, from, to, "copies");
  }
}

async function moveBack(inst: Installation, j: Journal, i: number, log: Logger): Promise<void> {
  const m = j.moves[i]!;
  const from = abs(inst, m.from);
  const to = abs(inst, m.to);
  await removeEntry(to + PARTIAL);
  const ids = identities(j, i);
  if (await holdsAny(from, ids)) {
    // Already back. A forward copy that reached `to` is a duplicate now.
    if (await holds(to, j.copies[i])) await removeEntry(to);
    await removeEntry(from + RETIRED);
    return;
  }
  if (await holdsAny(to, ids)) {
    try {
      await renameEntry(to, from);
    } catch (err) {
      if (!isExdev(err)) throw err;
      // Across devices: copy it back the same careful way it went.
      log.warn({ entry: m.from }, "copying back across devices");
      await copyAcross(inst, j, i, to, from, "undoCopies");
    }
    await removeEntry(from + RETIRED); // the original a forward copy had retired, if any
    return;
  }
  // Neither at `from` nor at `to`: the entry was deleted or replaced by someone
  // else (its identity is gone), so there is nothing of ours to put back, and
  // whatever now stands at `from` is not ours to move.
  // Unless neither place holds anything this journal knows: then every identity
  // changed (the installation was copied or restored since the journal was
  // written), and skipping would report a half-swapped tree as restored.
  if (!m.optional) {
    const atFrom = await lstatOrNull(from);
    const atTo = await lstatOrNull(to);
    if (atFrom && atTo && !knownTo(j, atFrom) && !knownTo(j, atTo)) {
      throw fail(`cannot tell whether ${m.from} was moved: neither it nor ${m.to} is an entry this journal knows (was the installation copied or restored?)`, "see docs/RECOVERY.md to put the entries back by hand");
    }
  }
  if (!m.optional) log.warn({ entry: m.from }, `${m.from} was changed by something else during the transaction; left as it is`);
}

/** After a forward copy reached `to`, retire the source (rename aside, then delete). */
async function retire(from: string, ids: EntryId[], j: Journal, i: number): Promise<void> {
  if (!j.copies[i]) return;
  if (await holdsAny(from, ids)) await renameEntry(from, from + RETIRED);
  await removeEntry(from + RETIRED);
}

/**
 * Every identity the entry of move `i` may have on disk. A rename keeps an
 * entry's identity; a cross-device copy gives it a new one (journaled in
 * `copies`/`undoCopies`). A rollback parks an entry and then moves it on: two
 * moves of one entry, planned with the same identity. So the second move must
 * recognise the copy the first one made, and undo must recognise them all, or
 * it would leave a parked copy where it is instead of putting it back.
 */
function identities(j: Journal, i: number): EntryId[] {
  const m = j.moves[i]!;
  const ids: EntryId[] = [m];
  j.moves.forEach((o, k) => {
    if (o.dev !== m.dev || o.ino !== m.ino || (o.birth ?? 0) !== (m.birth ?? 0)) return;
    for (const c of [j.copies[String(k)], j.undoCopies[String(k)]]) if (c) ids.push(c);
  });
  return ids;
}

/** Is the entry `st` one that a move of this journal planned or copied? */
function knownTo(j: Journal, st: Stats): boolean {
  const all: EntryId[] = [...j.moves, ...Object.values(j.copies), ...Object.values(j.undoCopies)];
  return all.some((id) => id.dev === st.dev && id.ino === st.ino && (!id.birth || !st.birthtimeMs || id.birth === st.birthtimeMs));
}

function holdsAnySync(p: string, ids: EntryId[]): boolean {
  return ids.some((id) => holdsSync(p, id) !== null);
}

async function holdsAny(p: string, ids: EntryId[]): Promise<boolean> {
  for (const id of ids) if (await holds(p, id)) return true;
  return false;
}

async function copyAcross(inst: Installation, j: Journal, i: number, src: string, dst: string, key: "copies" | "undoCopies"): Promise<void> {
  const partial = dst + PARTIAL;
  await removeEntry(partial);
  await copyEntry(src, partial);
  await fsyncDir(path.dirname(partial));
  const id = await identify(partial);
  if (!id) throw fail(`copy of ${src} did not appear`);
  j[key][String(i)] = id;
  await writeJournal(inst, j); // identity on disk before the copy takes the entry's place
  killPoint(`${j.kind}:copy-journaled`);
  await fsp.rename(fsPath(partial), fsPath(dst));
  killPoint(`${j.kind}:copy-placed`);
  await renameEntry(src, src + RETIRED).catch((err) => {
    if (errnoCode(err) !== "ENOENT") throw err;
  });
  await removeEntry(src + RETIRED);
}

async function syncParents(inst: Installation, moves: Move[]): Promise<void> {
  const dirs = new Set<string>();
  for (const m of moves) {
    dirs.add(path.dirname(abs(inst, m.from)));
    dirs.add(path.dirname(abs(inst, m.to)));
  }
  // Together, not one after another: the first fsync commits the file
  // system's journal with every rename in it, the others find little left
  // (one by one, 3-4 folders cost 1.4-2.3 ms of the swap).
  await Promise.all(
    [...dirs].map((d) =>
      fsyncDir(d).catch((err: unknown) => {
        if (errnoCode(err) !== "ENOENT") throw err;
      }),
    ),
  );
}
