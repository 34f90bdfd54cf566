/**
 * Copy a tree (the site's `user/`) into a snapshot, keeping what a restore
 * needs to put it back exactly: permission bits (setuid/setgid/sticky too),
 * access and modification times, symlinks as links with their target verbatim
 * (never followed), and, when gpm runs as root, owner and group.
 *
 * Speed: one walk, then the files are copied by a bounded pool of concurrent
 * fs.copyFile calls (copy_file_range, or a reflink where the file system
 * can), so 20k small files cost little more than the walk. Folders get their
 * modes and times last, deepest first: writing into a folder changes its mtime.
 *
 * Decisions: a missing `src` is not an error; the result is empty and `dest`
 * is not created (a snapshot without `user/` records a site without one). A
 * `src` that is itself a symlink to a folder is followed (a site may keep
 * user/ elsewhere); nothing below it is followed. Sockets, fifos and devices
 * are skipped with a warning: they are not content.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { GpmError, errnoCode, errorMessage, fail } from "../util/errors.js";
import type { Logger } from "../util/log.js";
import type { ProgressFactory } from "../util/progress.js";
import { AbortedError, checkAbort } from "../util/signals.js";

export interface SnapshotOptions {
  progress: ProgressFactory;
  log: Logger;
  /** Stop early (the stage aborts the copy when the download or extraction fails). */
  signal?: AbortSignal;
  /** Concurrent copies (default 16). */
  concurrency?: number;
  /** Absolute paths below `src` not to copy (the snapshot store itself, when it lives inside user/). */
  exclude?: string[];
}

interface Item {
  rel: string;
  st: fs.Stats;
}

const DEFAULT_CONCURRENCY = 16;
const uid = typeof process.getuid === "function" ? process.getuid() : -1;
const gid = typeof process.getgid === "function" ? process.getgid() : -1;
/** Only root can give a copy another owner; a copy made by root that already has the right owner skips the call. */
const needsChown = (st: fs.Stats): boolean => uid === 0 && (st.uid !== uid || st.gid !== gid);

function stopIfAsked(signal: AbortSignal | undefined): void {
  checkAbort();
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new AbortedError("SIGTERM");
}

/** Run `fn` over `items` with at most `limit` in flight; the first error stops new work and is thrown. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async (): Promise<void> => {
    while (failed === null && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== null) throw failed;
}

export async function snapshotTree(src: string, dest: string, opts: SnapshotOptions): Promise<{ files: number; bytes: number }> {
  let rootSt: fs.Stats;
  try {
    rootSt = await fsp.stat(src);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") {
      opts.log.debug({ src }, "nothing to snapshot");
      return { files: 0, bytes: 0 };
    }
    throw fail(`cannot snapshot ${src}: ${errnoCode(err) ?? errorMessage(err)}`);
  }
  if (!rootSt.isDirectory()) throw fail(`cannot snapshot ${src}: not a folder`);

  try {
    return await copyTree(src, dest, rootSt, opts);
  } catch (err) {
    if (err instanceof GpmError || (opts.signal?.aborted && err === opts.signal.reason)) throw err;
    throw fail(`snapshot of ${src} failed: ${errorMessage(err)}`, "check permissions and free space; nothing was changed");
  }
}

async function copyTree(src: string, dest: string, rootSt: fs.Stats, opts: SnapshotOptions): Promise<{ files: number; bytes: number }> {
  const exclude = new Set((opts.exclude ?? []).map((p) => path.resolve(p)));
  const dirs: Item[] = [{ rel: "", st: rootSt }];
  const leaves: Item[] = [];
  // Walk breadth-first: parents are listed (and later created) before their children.
  for (let i = 0; i < dirs.length; i++) {
    stopIfAsked(opts.signal);
    const dir = dirs[i]!;
    const names = await fsp.readdir(path.join(src, dir.rel));
    await pool(names, DEFAULT_CONCURRENCY, async (name) => {
      const rel = dir.rel ? `${dir.rel}/${name}` : name;
      if (exclude.has(path.join(src, rel))) return;
      const st = await fsp.lstat(path.join(src, rel));
      if (st.isDirectory()) dirs.push({ rel, st });
      else if (st.isFile() || st.isSymbolicLink()) leaves.push({ rel, st });
      else opts.log.warn({ path: path.join(src, rel) }, "snapshot skips a socket, fifo or device");
    });
  }
  const fileCount = leaves.filter((l) => l.st.isFile()).length;
  const bytes = leaves.reduce((n, l) => n + (l.st.isFile() ? l.st.size : 0), 0);

  await fsp.mkdir(path.dirname(dest), { recursive: true });
  for (const d of dirs) await fsp.mkdir(path.join(dest, d.rel), { mode: 0o700 });

  const bar = opts.progress("snapshot", fileCount, "files");
  let done = 0;
  try {
    await pool(leaves, opts.concurrency ?? DEFAULT_CONCURRENCY, async ({ rel, st }) => {
      stopIfAsked(opts.signal);
      const from = path.join(src, rel);
      const to = path.join(dest, rel);
      if (st.isSymbolicLink()) {
        await fsp.symlink(await fsp.readlink(from), to);
        if (needsChown(st)) await fsp.lchown(to, st.uid, st.gid);
        await fsp.lutimes(to, st.atimeMs / 1000, st.mtimeMs / 1000);
        return;
      }
      // COPYFILE_EXCL: a snapshot never overwrites; FICLONE: a reflink where the file system can.
      // copyFile gives the copy the source's mode; only a chown (which clears
      // setuid/setgid) makes a second chmod necessary.
      await fsp.copyFile(from, to, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
      if (needsChown(st)) {
        await fsp.chown(to, st.uid, st.gid);
        if (st.mode & 0o7000) await fsp.chmod(to, st.mode & 0o7777);
      }
      await fsp.utimes(to, st.atimeMs / 1000, st.mtimeMs / 1000);
      bar.update(++done);
    });
    for (const d of [...dirs].reverse()) {
      const to = path.join(dest, d.rel);
      if (needsChown(d.st)) await fsp.chown(to, d.st.uid, d.st.gid);
      await fsp.chmod(to, d.st.mode & 0o7777);
      await fsp.utimes(to, d.st.atimeMs / 1000, d.st.mtimeMs / 1000);
    }
  } finally {
    bar.stop();
  }
  opts.log.debug({ src, dest, files: fileCount, bytes }, "snapshot copied");
  return { files: fileCount, bytes };
}

