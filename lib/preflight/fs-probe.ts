/**
 * Read-only probes of the file system shared by the checks. Nothing here
 * creates, changes or removes anything: preflight never writes (test-enforced).
 */
import { fsPath } from "../util/byte-names.js";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { errnoCode } from "../util/errors.js";

/**
 * `p` itself, or its nearest ancestor that exists (following links): where a
 * folder gpm will create later (the snapshot store) will actually live.
 */
export async function nearestExisting(p: string): Promise<{ path: string; stats: fs.Stats }> {
  let cur = path.resolve(p);
  for (;;) {
    try {
      return { path: cur, stats: await fsp.stat(cur) };
    } catch (err) {
      const code = errnoCode(err);
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
      const parent = path.dirname(cur);
      if (parent === cur) throw err;
      cur = parent;
    }
  }
}

/** Can this process write into (or rename entries of) `p`? access(2) also knows read-only mounts. */
export async function canWrite(p: string): Promise<boolean> {
  try {
    await fsp.access(fsPath(p), fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function isExecutableFile(p: string): Promise<boolean> {
  try {
    const st = await fsp.stat(p);
    if (!st.isFile()) return false;
    await fsp.access(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export type ExecutableLookup =
  | { found: true; path: string }
  | { found: false; reason: "not-on-path" | "missing" | "not-executable"; path: string | null };

/**
 * Resolve argv[0] the way the smoke/post-upgrade runner's spawn (no shell) will:
 * a bare name is searched on PATH (we read PATH ourselves rather than spawning a
 * shell); a name with a slash is a path, relative to the root (the commands run
 * with the root as their working directory).
 */
export async function findExecutable(command: string, root: string): Promise<ExecutableLookup> {
  if (command.includes("/") || command.includes(path.sep)) {
    const full = path.resolve(root, command);
    if (await isExecutableFile(full)) return { found: true, path: full };
    try {
      await fsp.stat(full);
      return { found: false, reason: "not-executable", path: full };
    } catch {
      return { found: false, reason: "missing", path: full };
    }
  }
  // An empty PATH element means the current directory in POSIX shells; spawn does
  // not run in gpm's cwd but in the root, so such entries are not searched.
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    if (await isExecutableFile(candidate)) return { found: true, path: candidate };
  }
  return { found: false, reason: "not-on-path", path: null };
}
