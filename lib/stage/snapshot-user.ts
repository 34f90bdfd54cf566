/**
 * Copy a tree (the site's `user/`) into a snapshot, keeping what a restore
 * needs to put it back exactly: permission bits (setuid/setgid/sticky too),
 * access and modification times, symlinks as links with their target verbatim
 * (never followed), and, when gpm runs as root, owner and group.
 *
 * Speed: the copy runs on a worker thread with synchronous calls
 * (fs.copyFileSync: copy_file_range, or a reflink where the file system
 * can), like `cp -a`. The same copy made of awaited calls on the thread pool
 * took ~1.7 s for a 2,000-file user/ beside the extraction; this one takes
 * ~0.2 s, and leaves the main thread and the pool alone. Folders get their
 * modes and times after their contents: writing into a folder changes its mtime.
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
import type { ProgressFactory, ProgressBar } from "../util/progress.js";
import { runWorkerTask, serveTasks, stopRaised, StoppedError } from "../util/worker-task.js";
import { fsPath, nameFromBytes } from "../util/byte-names.js";

export interface SnapshotOptions {
  progress: ProgressFactory;
  log: Logger;
  /** Stop early (the stage aborts the copy when the download or extraction fails). */
  signal?: AbortSignal;
  /** Absolute paths below `src` not to copy (the snapshot store itself, when it lives inside user/). */
  exclude?: string[];
}

export interface SnapshotResult {
  files: number;
  bytes: number;
}

interface CopyJob {
  src: string;
  dest: string;
  exclude: string[];
}
const ROLE = "gpm-snapshot";
/** This module, by name: in the bundle (scripts/bundle.mjs) the code above may sit in a shared chunk, and the worker must start at the entry point. */
const WORKER_URL = new URL("./snapshot-user.js", import.meta.url);
type Note = { total: number } | { copied: number } | { skipped: string };

export async function snapshotTree(src: string, dest: string, opts: SnapshotOptions): Promise<SnapshotResult> {
  try {
    const rootSt = await fsp.stat(src);
    if (!rootSt.isDirectory()) throw fail(`cannot snapshot ${src}: not a folder`);
  } catch (err) {
    if (err instanceof GpmError) throw err;
    if (errnoCode(err) === "ENOENT") {
      opts.log.debug({ src }, "nothing to snapshot");
      return { files: 0, bytes: 0 };
    }
    throw fail(`cannot snapshot ${src}: ${errnoCode(err) ?? errorMessage(err)}`);
  }
  let bar: ProgressBar | undefined;
  try {
    const job: CopyJob = { src, dest, exclude: (opts.exclude ?? []).map((p) => path.resolve(p)) };
    const res = await runWorkerTask<Record<string, never>, CopyJob, SnapshotResult, Note>(WORKER_URL, ROLE, {}, job, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onNote: (note) => {
        if ("total" in note) bar = opts.progress("snapshot", note.total, "files");
        else if ("copied" in note) bar?.update(note.copied);
        else opts.log.warn({ path: note.skipped }, "snapshot skips a socket, fifo or device");
      },
    });
    opts.log.debug({ src, dest, ...res }, "snapshot copied");
    return res;
  } catch (err) {
    if (err instanceof GpmError || (opts.signal?.aborted && err === opts.signal.reason)) throw err;
    throw fail(`snapshot of ${src} failed: ${errorMessage(err)}`, "check permissions and free space; nothing was changed");
  } finally {
    bar?.stop();
  }
}

/** Only root can give a copy another owner; a copy made by root that already has the right owner skips the call. */
function needsChown(st: fs.Stats): boolean {
  return process.getuid?.() === 0 && (st.uid !== process.getuid() || st.gid !== process.getgid?.());
}

/** Give `to` the owner (as root), mode and times of `st`. Not for links (their mode is fixed, their times set by lutimes). */
function finish(to: fs.PathLike, st: fs.Stats): void {
  if (needsChown(st)) fs.chownSync(to, st.uid, st.gid);
  // A chown clears setuid/setgid; a folder was created 0700 on purpose.
  if (st.isDirectory() || (needsChown(st) && st.mode & 0o7000)) fs.chmodSync(to, st.mode & 0o7777);
  fs.utimesSync(to, st.atime, st.mtime);
}

/**
 * A file with fewer bytes allocated than its size has holes (a disk image, a
 * database file). copy_file_range and sendfile write the holes out as zeros
 * (a 2 GiB sparse file would take 2 GiB in the snapshot), and Node has no
 * lseek(SEEK_DATA), so such a file is copied by reading it in chunks and
 * writing only the blocks that are not all zero, at their offsets; the size
 * is set at the end (a trailing hole). Works the same on ext4, tmpfs and
 * overlayfs. A compressed file (btrfs) can look sparse too: it is just read.
 */
function isSparse(st: fs.Stats): boolean {
  return st.size > 0 && st.blocks * 512 < st.size;
}

const CHUNK = 1 << 20;
const BLOCK = 4096;
const ZEROS = Buffer.alloc(CHUNK);

function copySparse(from: fs.PathLike, to: fs.PathLike, st: fs.Stats, check: () => void): void {
  const src = fs.openSync(from, "r");
  let dst: number | undefined;
  try {
    // "wx": a snapshot never overwrites; the mode is set with fchmod, so the umask takes nothing away.
    dst = fs.openSync(to, "wx", 0o600);
    fs.fchmodSync(dst, st.mode & 0o7777);
    const buf = Buffer.allocUnsafe(CHUNK);
    let pos = 0;
    for (let n = 0; ; pos += n) {
      n = fs.readSync(src, buf, 0, CHUNK, pos);
      if (n === 0) break;
      if (n === CHUNK && buf.equals(ZEROS)) continue;
      // Write the runs of non-zero blocks of this chunk.
      for (let b = 0; b < n; ) {
        const end = Math.min(b + BLOCK, n);
        if (buf.compare(ZEROS, 0, end - b, b, end) === 0) {
          b = end;
          continue;
        }
        let e = end;
        while (e < n && buf.compare(ZEROS, 0, Math.min(e + BLOCK, n) - e, e, Math.min(e + BLOCK, n)) !== 0) e = Math.min(e + BLOCK, n);
        fs.writeSync(dst, buf, b, e - b, pos + b);
        b = e;
      }
      if ((pos / CHUNK) % 64 === 0) check();
    }
    // Read to the end: a trailing hole reads as zeros, so `pos` is the size now.
    fs.ftruncateSync(dst, pos);
  } finally {
    fs.closeSync(src);
    if (dst !== undefined) fs.closeSync(dst);
  }
}

/** How often the worker reports progress (files). */
const NOTE_EVERY = 64;

/**
 * The copy itself, on the worker: walk the source (links not followed,
 * excluded paths left out), then create folders parents first, copy files
 * and links, and finish folders deepest first (a folder that loses its w or
 * x bit has nothing left to do below it). The stop flag is read before
 * every entry.
 */
function copyTree(job: CopyJob, stop: Int32Array, note: (n: Note) => void): SnapshotResult {
  const exclude = new Set(job.exclude);
  const dirs: { rel: string; st: fs.Stats }[] = [{ rel: "", st: fs.statSync(job.src) }];
  const leaves: { rel: string; st: fs.Stats }[] = [];
  const check = (): void => {
    if (stopRaised(stop)) throw new StoppedError();
  };
  for (let i = 0; i < dirs.length; i++) {
    check();
    const dir = dirs[i]!.rel;
    // Names as bytes (lib/util/byte-names.ts): a Latin-1 name is copied like any other.
    for (const raw of fs.readdirSync(fsPath(path.join(job.src, dir)), { encoding: "buffer" })) {
      const name = nameFromBytes(raw);
      const rel = dir ? `${dir}/${name}` : name;
      if (exclude.has(path.join(job.src, rel))) continue;
      const st = fs.lstatSync(fsPath(path.join(job.src, rel)));
      if (st.isDirectory()) dirs.push({ rel, st });
      else if (st.isFile() || st.isSymbolicLink()) leaves.push({ rel, st });
      else note({ skipped: path.join(job.src, rel) });
    }
  }
  let files = 0;
  let bytes = 0;
  for (const l of leaves) {
    if (!l.st.isFile()) continue;
    files++;
    bytes += l.st.size;
  }
  note({ total: files });

  // Breadth-first order: every folder after its parent. The top one fails if `dest` exists.
  fs.mkdirSync(path.dirname(job.dest), { recursive: true });
  for (const d of dirs) fs.mkdirSync(fsPath(path.join(job.dest, d.rel)), { mode: 0o700 });
  let copied = 0;
  for (const { rel, st } of leaves) {
    check();
    const from = fsPath(path.join(job.src, rel));
    const to = fsPath(path.join(job.dest, rel));
    if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(from, { encoding: "buffer" }), to);
      if (needsChown(st)) fs.lchownSync(to, st.uid, st.gid);
      fs.lutimesSync(to, st.atime, st.mtime);
      continue;
    }
    // COPYFILE_EXCL: a snapshot never overwrites. copyFile gives the copy the
    // source's mode with an fchmod (libuv), so the umask takes nothing away
    // and setuid/setgid/sticky are kept.
    if (isSparse(st)) copySparse(from, to, st, check);
    else fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
    finish(to, st);
    if (++copied % NOTE_EVERY === 0) note({ copied });
  }
  note({ copied });
  for (let i = dirs.length - 1; i >= 0; i--) finish(fsPath(path.join(job.dest, dirs[i]!.rel)), dirs[i]!.st);
  return { files, bytes };
}

// As the copy's worker thread (runWorkerTask above starts this module as one).
serveTasks<Record<string, never>, CopyJob, SnapshotResult, Note>(ROLE, (job, { data, note }) => copyTree(job, data.stop, note));
