import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import { pipeline } from "node:stream/promises";
import writeFileAtomic from "write-file-atomic";
import { errnoCode, fail } from "./errors.js";
import { Slices } from "./slices.js";
import { ownerFor, runningAsRoot } from "./owner.js";
import { fsPath, nameFromBytes } from "./byte-names.js";

/** fsync a folder so that a rename or create inside it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(fsPath(dir), "r");
    await fh.sync();
  } catch (err) {
    // Some file systems refuse fsync on a directory; nothing more can be done there.
    if (!["EINVAL", "EISDIR", "EPERM", "EBADF"].includes(errnoCode(err) ?? "")) throw err;
  } finally {
    await fh?.close();
  }
}

/**
 * Write JSON so that readers see the old or the new document, never a torn one,
 * and so that it is on disk when this returns: write-file-atomic fsyncs the
 * file and renames it into place; it does not fsync the folder, so we do.
 */
export async function writeJsonDurable(file: string, value: unknown, mode?: number): Promise<void> {
  await writeFileDurable(file, JSON.stringify(value, null, 2) + "\n", mode);
}

/**
 * writeJsonDurable for text. The file keeps the owner of the one it replaces,
 * a new one gets the tree's owner (see ./owner.ts).
 */
export async function writeFileDurable(file: string, text: string, mode?: number): Promise<void> {
  const prev = await lstatOrNull(file);
  const chown = runningAsRoot() ? (prev ? { uid: prev.uid, gid: prev.gid } : ownerFor(file)) : undefined;
  await writeFileAtomic(file, text, { fsync: true, ...(mode !== undefined ? { mode } : {}), ...(chown ? { chown } : {}) });
  await fsyncDir(path.dirname(file));
}

/**
 * The text of a regular file. Opened non-blocking and checked with fstat
 * before reading, so a FIFO, a device or a folder put where gpm expects a
 * file is one error naming it instead of a read that never returns
 * (invariant 9). Errors keep their errno `code` (ENOENT for a missing file).
 */
export async function readRegularFile(file: string): Promise<string> {
  const fh = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(file, st);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

/** The one-line error for a special file where gpm expects a regular one. */
export function notRegular(file: string, st: fs.Stats): Error {
  const kind = st.isDirectory() ? "a folder" : st.isFIFO() ? "a FIFO (named pipe)" : st.isSocket() ? "a socket" : "a device or special file";
  return fail(`${file} is ${kind}, not a regular file`, "put the regular file gpm expects back in its place (or move that one away)");
}

/** Read JSON, or undefined if the file does not exist. A corrupt file is an error naming it. */
export async function readJsonIfExists<T = unknown>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readRegularFile(file);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw fail(`${file} is not valid JSON`, "fix or remove the file");
  }
}

export async function lstatOrNull(p: string): Promise<fs.Stats | null> {
  try {
    return await fsp.lstat(fsPath(p));
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return null;
    throw err;
  }
}

/** lstatOrNull without a thread-pool round trip (the swap's moves, lib/txn/transaction.ts). */
export function lstatOrNullSync(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(fsPath(p));
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return null;
    throw err;
  }
}

export async function exists(p: string): Promise<boolean> {
  return (await lstatOrNull(p)) !== null;
}

export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash("sha256");
  // Non-blocking open + fstat first: a FIFO in place of a file must not hang the hash.
  const fh = await fsp.open(fsPath(file), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(file, st);
    await pipeline(fh.createReadStream({ autoClose: false }), hash);
  } finally {
    await fh.close();
  }
  return hash.digest("hex");
}

/** True when `child` is `parent` itself or lies beneath it (lexically). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Resolve a relative path from outside input (config value, manifest field)
 * against `base`, refusing anything that would leave it (invariant 7).
 */
export function resolveInside(base: string, rel: string, what: string): string {
  if (rel.includes("\0")) throw fail(`${what}: contains a NUL byte`);
  const full = path.resolve(base, rel);
  if (!isInside(base, full)) throw fail(`${what}: "${rel}" points outside ${base}`);
  return full;
}

/**
 * The names in folder `dir`, byte for byte: listed as bytes, spelled as
 * lib/util/byte-names.ts defines (a Latin-1 name is a name like any other;
 * hand a path built from one to node:fs through fsPath).
 */
export async function listNames(dir: string): Promise<string[]> {
  return (await fsp.readdir(fsPath(dir), { encoding: "buffer" })).map(nameFromBytes);
}

export function listNamesSync(dir: string): string[] {
  return fs.readdirSync(fsPath(dir), { encoding: "buffer" }).map(nameFromBytes);
}

/**
 * Every regular file at or below `p` (links not followed, never entered), as a
 * path relative to `base`, with its stats. A missing `p` has none.
 *
 * Synchronous calls under an async signature: one awaited lstat per file is a
 * thread-pool round trip each (a 2,000-file user/ took ~0.5 s that way), and
 * these are answered from the inode cache in microseconds. The event loop
 * gets a turn every few milliseconds (between folders).
 */
export async function walkFiles(base: string, rel: string, onFile: (rel: string, st: fs.Stats) => void): Promise<void> {
  const pending = [rel];
  const slices = new Slices(10);
  while (pending.length > 0) {
    const r = pending.pop()!;
    const full = path.join(base, r);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(fsPath(full));
    } catch (err) {
      // Gone meanwhile (or never there): nothing to count. Anything else is a real error.
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") continue;
      throw err;
    }
    if (st.isFile()) onFile(r, st);
    if (!st.isDirectory()) continue;
    for (const name of listNamesSync(full)) pending.push(r ? `${r}/${name}` : name);
    await slices.tick();
  }
}

/**
 * Total size in bytes and count of regular files below `dir` (links not
 * followed), and the bytes a copy of them takes on disk: a sparse file counts
 * with what is allocated (the snapshot copy keeps its holes), never more than its size.
 */
export async function treeSize(dir: string): Promise<{ files: number; bytes: number; allocated: number }> {
  let files = 0;
  let bytes = 0;
  let allocated = 0;
  await walkFiles(dir, "", (_rel, st) => {
    files++;
    bytes += st.size;
    allocated += Math.min(st.size, st.blocks * 512);
  });
  return { files, bytes, allocated };
}

/**
 * rm -rf that also works on trees holding read-only folders (a snapshot of
 * user/ keeps them read-only): on EACCES/EPERM it makes the folders
 * owner-writable and tries again. Links are never followed.
 */
export async function removeTree(dir: string): Promise<void> {
  try {
    await fsp.rm(fsPath(dir), { recursive: true, force: true });
    return;
  } catch (err) {
    if (!["EACCES", "EPERM", "ENOTEMPTY"].includes(errnoCode(err) ?? "")) throw err;
  }
  const unlock = async (d: string): Promise<void> => {
    await fsp.chmod(fsPath(d), 0o700).catch(() => undefined);
    for (const name of await listNames(d).catch(() => [] as string[])) {
      const p = path.join(d, name);
      if ((await lstatOrNull(p))?.isDirectory()) await unlock(p);
    }
  };
  const st = await lstatOrNull(dir);
  if (st?.isDirectory()) await unlock(dir);
  await fsp.rm(fsPath(dir), { recursive: true, force: true });
}
