import fsp from "node:fs/promises";
import path from "node:path";
import type { Stats } from "node:fs";
import { errnoCode } from "../util/errors.js";
import { lstatOrNull } from "../util/fsx.js";
import type { EntryId } from "./journal.js";

/**
 * The only primitives the transaction layer uses on the live tree. Test
 * seams (inert unless their variable is set) inject the faults of issue 4:
 *   GPM_TEST_FAIL_RENAME=<n>   the n-th rename of this process fails with EIO
 *   GPM_TEST_EXDEV=1           every rename fails with EXDEV (forces the copy fallback)
 */
let renames = 0;

function injected(code: string, syscall: string, p: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: injected fault, ${syscall} '${p}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  err.path = p;
  return err;
}

export async function renameEntry(from: string, to: string): Promise<void> {
  renames++;
  const failAt = process.env.GPM_TEST_FAIL_RENAME;
  if (failAt && Number(failAt) === renames) throw injected("EIO", "rename", from);
  if (process.env.GPM_TEST_EXDEV === "1" && path.dirname(from) !== path.dirname(to)) throw injected("EXDEV", "rename", from);
  await fsp.rename(from, to);
}

/** Copy a whole entry exactly: modes, times, and links verbatim (never rewritten or followed). */
export async function copyEntry(from: string, to: string): Promise<void> {
  await fsp.cp(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, errorOnExist: true, force: false });
}

export async function removeEntry(p: string): Promise<void> {
  await fsp.rm(p, { recursive: true, force: true });
}

/** Does `p` hold the entry with this identity? */
export async function holds(p: string, id: EntryId | undefined): Promise<Stats | null> {
  if (!id) return null;
  const st = await lstatOrNull(p);
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
