import os from "node:os";
import fsp from "node:fs/promises";
import { GpmError, Exit, errnoCode, errorMessage, fail } from "../util/errors.js";
import { z } from "zod";
import { exists, fsyncDir, readRegularFile } from "../util/fsx.js";
import { giveOwner, mkdirp } from "../util/owner.js";
import { killPoint } from "../util/seams.js";
import type { Installation } from "./installation.js";
import type { Logger } from "../util/log.js";

/**
 * `.gpm/lock`: one gpm at a time changes an installation. Created with O_EXCL
 * and holding pid, host and start time, so a second gpm can say who holds it
 * and since when. A lock whose process is gone (same host, pid not alive) is
 * taken over with a warning.
 *
 * proper-lockfile decides staleness by mtime and needs a timer to refresh it;
 * here the holder's pid is the truth, which is what an operator can check.
 */
export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

export interface Lock {
  info: LockInfo;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === "EPERM";
  }
}

const lockSchema = z.object({ pid: z.number().int(), host: z.string(), startedAt: z.string(), command: z.string() });

/**
 * The lock's holder. A file that is not a lock at all — torn by a crash
 * between create and write, `null`, any other JSON — names nobody: it is
 * reported as pid 0, which is never live, so it is taken over (SPEC section 5).
 */
export async function readLock(inst: Installation): Promise<LockInfo | undefined> {
  let text: string;
  try {
    text = await readRegularFile(inst.paths.lock);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    text = "";
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const r = lockSchema.safeParse(raw);
  return r.success ? r.data : { pid: 0, host: os.hostname(), startedAt: "unknown", command: "unknown" };
}

/** Is the lock held by a live process (on this host, or on another one we cannot check)? */
export function isLive(info: LockInfo): boolean {
  if (info.pid === process.pid && info.host === os.hostname()) return true;
  return info.host !== os.hostname() || (info.pid > 0 && alive(info.pid));
}

export async function acquireLock(inst: Installation, command: string, log: Logger): Promise<Lock> {
  // A run that only reads or discards (preflight, --dry-run) leaves no trace: the
  // .gpm/ folder made just for the lock goes with it if nothing else was put there.
  const madeDir = !(await exists(inst.paths.gpmDir));
  await mkdirp(inst.paths.gpmDir);
  const info: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await fsp.open(inst.paths.lock, "wx", 0o644);
      try {
        await fh.writeFile(JSON.stringify(info) + "\n");
        await fh.sync();
      } catch (err) {
        // A full disk: the lock file exists but names nobody. Leave nothing behind.
        await fh.close().catch(() => undefined);
        await fsp.rm(inst.paths.lock, { force: true });
        if (madeDir) await fsp.rmdir(inst.paths.gpmDir).catch(() => undefined);
        throw fail(`cannot write the lock ${inst.paths.lock}: ${errnoCode(err) ?? errorMessage(err)}`, "free some space on that file system (or check its permissions) and try again");
      }
      await fh.close();
      await giveOwner(inst.paths.lock);
      await fsyncDir(inst.paths.gpmDir);
      killPoint("lock:acquired");
      return {
        info,
        release: async () => {
          const cur = await readLock(inst);
          if (cur && cur.pid === info.pid && cur.startedAt === info.startedAt) await fsp.rm(inst.paths.lock, { force: true });
          if (madeDir) await fsp.rmdir(inst.paths.gpmDir).catch(() => undefined);
        },
      };
    } catch (err) {
      if (errnoCode(err) !== "EEXIST") throw err;
    }
    const holder = await readLock(inst);
    if (!holder) continue;
    if (isLive(holder)) {
      throw new GpmError(
        Exit.LOCKED,
        `another gpm holds the lock: pid ${holder.pid} on ${holder.host} (${holder.command}) since ${holder.startedAt}`,
        "wait for it to finish; if that process is gone, remove .gpm/lock",
      );
    }
    if (holder.pid > 0) log.warn({ holder }, `taking over a stale lock of pid ${holder.pid} (process is gone)`);
    else log.warn(`taking over a stale lock ${inst.paths.lock}: it names no process (not a lock gpm wrote, or torn by a crash)`);
    // Rename, not unlink: of two gpm racing for the same stale lock only one rename succeeds.
    const stale = `${inst.paths.lock}.stale-${process.pid}`;
    try {
      await fsp.rename(inst.paths.lock, stale);
      let moved: LockInfo | undefined;
      try {
        moved = lockSchema.parse(JSON.parse(await readRegularFile(stale)));
      } catch {
        // A torn lock (empty or half-written) or no lock at all names nobody: nothing to put back.
      }
      if (moved && moved.pid && moved.pid !== holder.pid && isLive(moved)) {
        // We raced another taker and moved its fresh lock: put it back (link fails if a third one exists).
        await fsp.link(stale, inst.paths.lock).catch(() => undefined);
      }
      await fsp.rm(stale, { force: true });
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
    }
  }
  throw new GpmError(Exit.LOCKED, "could not take the lock .gpm/lock", "another gpm is starting; try again");
}
