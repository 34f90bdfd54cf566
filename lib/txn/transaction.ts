import path from "node:path";
import fsp from "node:fs/promises";
import { fail, errnoCode } from "../util/errors.js";
import { fsyncDir, writeJsonDurable, lstatOrNull } from "../util/fsx.js";
import { checkAbort } from "../util/signals.js";
import { killPoint, killAfterMove } from "../util/seams.js";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { writeJournal, removeJournal, abs, type Journal, type Move, type TxKind } from "./journal.js";
import { renameEntry, copyEntry, removeEntry, holds, isExdev } from "./fs-ops.js";

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
}

/** Build the move of the entry now at `from`: records its identity. Returns null when it does not exist. */
export async function planMove(inst: Installation, from: string, to: string, optional = false): Promise<Move | null> {
  const st = await lstatOrNull(abs(inst, from));
  if (!st) return null;
  return { from, to, dev: st.dev, ino: st.ino, ...(optional ? { optional } : {}) };
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
    meta: { from: o.from, to: o.to, maintenanceOnAt: null, startedAt: new Date().toISOString() },
  };
  // Each destination must be free when its move comes (now, or vacated by an
  // earlier move): a rename onto an existing entry could replace it silently.
  const vacated = new Set<string>();
  for (const m of o.moves) {
    if (!vacated.has(m.to) && (await lstatOrNull(abs(inst, m.to)))) throw fail(`cannot move ${m.from}: ${m.to} already exists`, "see docs/RECOVERY.md");
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
  await fsp.mkdir(path.dirname(file), { recursive: true });
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
export async function setPhase(inst: Installation, j: Journal, phase: Journal["phase"]): Promise<void> {
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
  if (j.phase !== "undoing") await setPhase(inst, j, "undoing");
  for (let i = j.moves.length - 1; i >= 0; i--) {
    await moveBack(inst, j, i, log);
    killPoint(`${j.kind}:undo-move`);
  }
  await syncParents(inst, j.moves);
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
  if ((await holds(to, m)) || (await holds(to, j.copies[i]))) {
    await retire(from, to, m, j, i);
    return;
  }
  if (!(await holds(from, m))) {
    if (m.optional) return;
    throw fail(`${m.from} changed or vanished during the transaction`, "nothing was lost: gpm restores the previous tree");
  }
  try {
    await renameEntry(from, to);
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
  if ((await holds(from, m)) || (await holds(from, j.undoCopies[i]))) {
    // Already back. A forward copy that reached `to` is a duplicate now.
    if (await holds(to, j.copies[i])) await removeEntry(to);
    await removeEntry(from + RETIRED);
    return;
  }
  if (await holds(to, m)) {
    await renameEntry(to, from);
    return;
  }
  if (await holds(to, j.copies[i])) {
    // The original was retired after a cross-device copy: copy it back the same careful way.
    log.warn({ entry: m.from }, "copying back across devices");
    await removeEntry(from + RETIRED);
    await copyAcross(inst, j, i, to, from, "undoCopies");
    return;
  }
  if (m.optional) return;
  throw fail(`cannot find ${m.from} (expected at ${m.to}) to put it back`, "see docs/RECOVERY.md: the snapshot holds every replaced entry");
}

/** After a forward copy reached `to`, retire the source (rename aside, then delete). */
async function retire(from: string, _to: string, m: Move, j: Journal, i: number): Promise<void> {
  if (!j.copies[i]) return;
  if (await holds(from, m)) await renameEntry(from, from + RETIRED);
  await removeEntry(from + RETIRED);
}

async function copyAcross(inst: Installation, j: Journal, i: number, src: string, dst: string, key: "copies" | "undoCopies"): Promise<void> {
  const partial = dst + PARTIAL;
  await removeEntry(partial);
  await copyEntry(src, partial);
  await fsyncDir(path.dirname(partial));
  const st = await lstatOrNull(partial);
  if (!st) throw fail(`copy of ${src} did not appear`);
  j[key][String(i)] = { dev: st.dev, ino: st.ino };
  await writeJournal(inst, j); // identity on disk before the copy takes the entry's place
  await fsp.rename(partial, dst);
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
  for (const d of dirs) {
    try {
      await fsyncDir(d);
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
    }
  }
}
