/**
 * Copy a tree (the site's `user/`) into a snapshot, keeping what a restore
 * needs to put it back exactly: permission bits (setuid/setgid/sticky too),
 * access and modification times, symlinks as links with their target verbatim
 * (never followed), and, when gpm runs as root, owner and group.
 *
 * Speed: the tree is walked, created, copied and finished a level at a time,
 * each phase with many operations in flight on the thread pool
 * (fs.copyFile: copy_file_range, or a reflink where the file system can), so
 * the copy needs a few round trips through the event loop per level, not
 * several per file: it runs beside the extraction, which holds the main
 * thread for slices at a time. Folders get their modes and times last,
 * deepest level first: writing into a folder changes its mtime.
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
  /**
   * File operations in flight at once (default 64). A function is read again
   * as the copy goes: the stage keeps it low while its download needs the
   * thread pool, and raises it once the extraction holds the main thread.
   */
  concurrency?: number | (() => number);
  /** Absolute paths below `src` not to copy (the snapshot store itself, when it lives inside user/). */
  exclude?: string[];
}

interface Item {
  rel: string;
  st: fs.Stats;
}

/** File operations in flight: enough that the thread pool stays busy while the main thread is held by the extraction between its yields. */
const DEFAULT_CONCURRENCY = 64;
const uid = typeof process.getuid === "function" ? process.getuid() : -1;
const gid = typeof process.getgid === "function" ? process.getgid() : -1;
/** Only root can give a copy another owner; a copy made by root that already has the right owner skips the call. */
const needsChown = (st: fs.Stats): boolean => uid === 0 && (st.uid !== uid || st.gid !== gid);

function stopIfAsked(signal: AbortSignal | undefined): void {
  checkAbort();
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new AbortedError("SIGTERM");
}

/**
 * Run `fn` over `items` with at most `limit()` in flight (read again as items
 * finish, so a raised limit takes effect at once); the first error stops new
 * work and is thrown once the running ones have settled.
 */
function pool<T>(items: T[], limit: () => number, fn: (item: T) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let active = 0;
    let failed: { err: unknown } | null = null;
    const fill = (): void => {
      while (failed === null && next < items.length && active < Math.max(1, limit())) {
        const item = items[next++]!;
        active++;
        Promise.resolve()
          .then(() => fn(item))
          .catch((err: unknown) => {
            failed ??= { err };
          })
          .finally(() => {
            active--;
            fill();
          });
      }
      if (active === 0 && (failed !== null || next >= items.length)) {
        if (failed !== null) reject(failed.err);
        else resolve();
      }
    };
    fill();
  });
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
  const c = opts.concurrency ?? DEFAULT_CONCURRENCY;
  const limit = typeof c === "function" ? c : () => c;
  // Every phase works a level of the tree at a time with all of that level's
  // operations in flight, so the copy needs a few round trips through the
  // event loop per level, not several per folder: it runs beside the
  // extraction, which holds the main thread for slices at a time.
  const levels: Item[][] = [];
  const leaves: Item[] = [];
  for (let level: Item[] = [{ rel: "", st: rootSt }]; level.length > 0; ) {
    stopIfAsked(opts.signal);
    levels.push(level);
    const children: string[] = [];
    await pool(level, limit, async (dir) => {
      for (const name of await fsp.readdir(path.join(src, dir.rel))) {
        const rel = dir.rel ? `${dir.rel}/${name}` : name;
        if (!exclude.has(path.join(src, rel))) children.push(rel);
      }
    });
    const next: Item[] = [];
    await pool(children, limit, async (rel) => {
      const st = await fsp.lstat(path.join(src, rel));
      if (st.isDirectory()) next.push({ rel, st });
      else if (st.isFile() || st.isSymbolicLink()) leaves.push({ rel, st });
      else opts.log.warn({ path: path.join(src, rel) }, "snapshot skips a socket, fifo or device");
    });
    level = next;
  }
  const fileCount = leaves.filter((l) => l.st.isFile()).length;
  const bytes = leaves.reduce((n, l) => n + (l.st.isFile() ? l.st.size : 0), 0);

  // Parents before children: one level after the other. The top one fails if `dest` exists.
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  for (const level of levels) {
    stopIfAsked(opts.signal);
    await pool(level, limit, (d) => fsp.mkdir(path.join(dest, d.rel), { mode: 0o700 }));
  }

  const bar = opts.progress("snapshot", fileCount, "files");
  let done = 0;
  try {
    await pool(leaves, limit, async ({ rel, st }) => {
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
      // copyFile gives the copy the source's mode with an fchmod (libuv), so the
      // umask takes nothing away and setuid/setgid/sticky are kept; only a chown
      // (which clears setuid/setgid) makes a second chmod necessary.
      await fsp.copyFile(from, to, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
      if (needsChown(st)) {
        await fsp.chown(to, st.uid, st.gid);
        if (st.mode & 0o7000) await fsp.chmod(to, st.mode & 0o7777);
      }
      await fsp.utimes(to, st.atimeMs / 1000, st.mtimeMs / 1000);
      bar.update(++done);
    });
    // Folder owners, modes and times last, deepest level first: writing into a
    // folder changes its mtime, and a folder that loses its x bit must not
    // have anything left to do below it. Within a level, folders are independent.
    for (const level of [...levels].reverse()) {
      stopIfAsked(opts.signal);
      await pool(level, limit, async (d) => {
        const to = path.join(dest, d.rel);
        if (needsChown(d.st)) await fsp.chown(to, d.st.uid, d.st.gid);
        await fsp.chmod(to, d.st.mode & 0o7777);
        await fsp.utimes(to, d.st.atimeMs / 1000, d.st.mtimeMs / 1000);
      });
    }
  } finally {
    bar.stop();
  }
  opts.log.debug({ src, dest, files: fileCount, bytes }, "snapshot copied");
  return { files: fileCount, bytes };
}
