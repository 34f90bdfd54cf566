import fs from "node:fs";
import fsp from "node:fs/promises";
import type { Stats } from "node:fs";
import { errnoCode, fail } from "../util/errors.js";
import { lstatOrNull, lstatOrNullSync } from "../util/fsx.js";
import type { EntryId } from "./journal.js";
import { renameFault } from "../util/seams.js";
import { fsPath, hasRawBytes } from "../util/byte-names.js";

/**
 * The only primitives the transaction layer uses on the live tree. Test
 * seams (lib/util/seams.ts: GPM_TEST_FAIL_RENAME, GPM_TEST_EXDEV; inert unless
 * set) inject the faults of issue 4 into renameEntry.
 */

function injected(code: string, syscall: string, p: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: injected fault, ${syscall} '${p}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  err.path = p;
  return err;
}

export async function renameEntry(from: string, to: string): Promise<void> {
  const fault = renameFault(from, to);
  if (fault) throw injected(fault, "rename", from);
  await fsp.rename(fsPath(from), fsPath(to));
}

/**
 * renameEntry as one synchronous system call, for the moves inside the swap
 * window (see applyMoves): the same fault seams.
 */
export function renameEntrySync(from: string, to: string): void {
  const fault = renameFault(from, to);
  if (fault) throw injected(fault, "rename", from);
  fs.renameSync(fsPath(from), fsPath(to));
}

/** Copy a whole entry exactly: modes, times, and links verbatim (never rewritten or followed). */
export async function copyEntry(from: string, to: string): Promise<void> {
  // fs.cp takes string paths only; a name that is not UTF-8 cannot cross devices that way.
  if (hasRawBytes(from) || hasRawBytes(to)) throw fail(`cannot copy ${from} across devices: its name is not UTF-8`, "keep the snapshot store on the same file system as the root (preflight warns of it)");
  await fsp.cp(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, errorOnExist: true, force: false });
}

export async function removeEntry(p: string): Promise<void> {
  await fsp.rm(fsPath(p), { recursive: true, force: true });
}

/** Does `p` hold the entry with this identity? */
export async function holds(p: string, id: EntryId | undefined): Promise<Stats | null> {
  if (!id) return null;
  return sameEntry(await lstatOrNull(p), id);
}

/** holds, synchronously (the swap's moves). */
export function holdsSync(p: string, id: EntryId | undefined): Stats | null {
  if (!id) return null;
  return sameEntry(lstatOrNullSync(p), id);
}

function sameEntry(st: Stats | null, id: EntryId): Stats | null {
  if (!st || st.ino !== id.ino || st.dev !== id.dev) return null;
  return id.birth && st.birthtimeMs && st.birthtimeMs !== id.birth ? null : st;
}

/** The identity of the entry at `p` now (null if there is none). */
export async function identify(p: string): Promise<EntryId | null> {
  const st = await lstatOrNull(p);
  return st && { dev: st.dev, ino: st.ino, birth: st.birthtimeMs };
}

export function isExdev(err: unknown): boolean {
  return errnoCode(err) === "EXDEV";
}
