import fsp from "node:fs/promises";
import path from "node:path";
import { renameEntry, copyEntry, removeEntry, isExdev } from "./fs-ops.js";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { snapshotPaths, type SnapshotPaths } from "../store/paths.js";
import { lstatOrNull, fsyncDir, listNames } from "../util/fsx.js";
import { fail, errnoCode } from "../util/errors.js";
import { fsPath } from "../util/byte-names.js";
import { mkdirp } from "../util/owner.js";
import { killPoint } from "../util/seams.js";
import type { Journal, UserLink } from "./journal.js";

/**
 * After postUpgrade has run (the release's own code may have changed user/),
 * undo also puts user/ back from the snapshot (DESIGN invariant 4's one
 * exception). What it replaces is kept as `<snapshot>/user-after-failure/`
 * for inspection, never deleted. Every step is a rename (or, across devices,
 * a copy whose source goes only once the copy is whole), and each one's state
 * after a crash is read off the disk, so repair does what the failing run
 * would have.
 *
 * user/ a real folder: two renames, the live user/ aside, the snapshot's copy
 * into its place.
 *
 * user/ a symbolic link (to a folder inside or outside the root, as the
 * journal recorded it before anything moved): the link stays a link with the
 * same target, and what is put back is the content behind it, entry by entry.
 * The snapshot holds a real copy of that content (lib/stage/snapshot-user.ts
 * follows user/ itself, nothing below it), so:
 *   1. every entry of the linked folder is renamed into
 *      `user-after-failure.partial/`; that folder is then renamed to
 *      `user-after-failure/`, which marks step 1 done (kill points
 *      restore:user-entry-aside, restore:user-contents-aside);
 *   2. every entry of the snapshot's `user/` is renamed into the linked
 *      folder (restore:user-entry-restored); the linked folder gets the
 *      snapshot's mode; the then empty `user/` of the snapshot is removed,
 *      which marks the restore done (restore:user-restored).
 * The only paths written are the linked folder's own entries, reached by its
 * real path: names come from listing it, nothing below them is followed
 * (renames and copies take links as links). If, when undo comes, user/ is no
 * longer the link the journal recorded, or it resolves elsewhere (postUpgrade
 * re-pointed it or replaced the folder it points to), gpm refuses to write
 * through it: the error names both, the undo stops there with the previous
 * core back, and the site goes into recovery mode (exit 7). Making user/ that
 * link again and running `gpm repair` finishes the restore. A name that
 * exists on both sides at once (only a copy across devices killed between
 * placing and removing leaves one) is never overwritten: the one found is
 * moved into user-after-failure/ under a free name first.
 */
export async function restoreUserAfterPostUpgrade(inst: Installation, j: Journal, log: Logger): Promise<void> {
  const sp = snapshotPaths(inst, j.manifestId);
  if (!(await lstatOrNull(sp.user))) return; // already put back (or there was no user/ to copy)
  if (j.userLink) return restoreBehindLink(inst, j.userLink, sp, log);
  const live = inst.paths.user;
  const kept = sp.userAfterFailure;
  if ((await lstatOrNull(live)) && !(await lstatOrNull(kept))) await renameEntry(live, kept);
  killPoint("restore:user-moved-aside");
  if (!(await lstatOrNull(live))) await renameEntry(sp.user, live);
  await fsyncDir(inst.root);
  await fsyncDir(sp.dir);
  killPoint("restore:user-restored");
  log.warn(`user/ was put back from snapshot ${j.manifestId}; the user/ left by postUpgrade is in ${path.relative(inst.root, kept)}`);
}

/** What the journal records of a linked user/ before anything moves (undefined: user/ is not a link). */
export async function recordUserLink(inst: Installation): Promise<UserLink | undefined> {
  const st = await lstatOrNull(inst.paths.user);
  if (!st?.isSymbolicLink()) return undefined;
  const target = await fsp.readlink(inst.paths.user);
  const real = await fsp.realpath(inst.paths.user).catch(() => null);
  // A dangling link: stage found nothing to copy, so undo has nothing to put back through it.
  return real ? { target, real } : undefined;
}

async function restoreBehindLink(inst: Installation, rec: UserLink, sp: SnapshotPaths, log: Logger): Promise<void> {
  const real = await linkedFolder(inst, rec, sp);
  // 1. The linked folder's contents (as postUpgrade left them) go aside, until the folder is empty.
  if (!(await lstatOrNull(sp.userAfterFailure))) {
    await mkdirp(sp.userAfterFailurePartial, 0o700);
    for (const name of await listNames(real)) {
      await moveAside(path.join(real, name), sp.userAfterFailurePartial, name);
      killPoint("restore:user-entry-aside");
    }
    await fsyncDir(real);
    await fsyncDir(sp.userAfterFailurePartial);
    await renameEntry(sp.userAfterFailurePartial, sp.userAfterFailure);
    await fsyncDir(sp.dir);
  }
  killPoint("restore:user-contents-aside");
  // 2. The snapshot's entries go into the linked folder, one by one.
  for (const name of await listNames(sp.user)) {
    const to = path.join(real, name);
    // Only a cross-device copy killed after it was placed leaves both: keep the one found, never overwrite.
    if (await lstatOrNull(to)) await moveAside(to, sp.userAfterFailure, name);
    await place(path.join(sp.user, name), to);
    killPoint("restore:user-entry-restored");
  }
  const mode = (await fsp.lstat(fsPath(sp.user))).mode & 0o7777;
  if (((await fsp.lstat(fsPath(real))).mode & 0o7777) !== mode) await fsp.chmod(fsPath(real), mode);
  await fsyncDir(real);
  await fsp.rmdir(fsPath(sp.user)); // empty now: the restore is done
  await fsyncDir(sp.dir);
  killPoint("restore:user-restored");
  log.warn(`the content behind the linked user/ (${rec.target}) was put back from snapshot ${path.basename(sp.dir)}; what postUpgrade left there is in ${path.relative(inst.root, sp.userAfterFailure)}`);
}

/** The folder user/ points to, by its real path, once it is checked to be the one the journal recorded. */
async function linkedFolder(inst: Installation, rec: UserLink, sp: SnapshotPaths): Promise<string> {
  const user = inst.paths.user;
  const st = await lstatOrNull(user);
  const now = st?.isSymbolicLink() ? await fsp.readlink(user) : null;
  const real = now === null ? null : await fsp.realpath(user).catch(() => null);
  if (now === rec.target && real === rec.real && (await fsp.stat(real).catch(() => null))?.isDirectory()) return real;
  const found = !st ? "is gone" : now === null ? "is no longer a link" : now !== rec.target ? `now points to ${now}` : `now resolves to ${real ?? "nothing"}`;
  throw fail(
    `user/ was a symbolic link to ${rec.target} (${rec.real}) when the upgrade began and ${found}: gpm will not put ${path.relative(inst.root, sp.user)}/ back through it`,
    `make user/ that link again and run \`gpm repair\` to finish the restore, or copy what you need from ${path.relative(inst.root, sp.user)}/ by hand (docs/RECOVERY.md)`,
  );
}

/** Move `from` into folder `dir` as `name`, or `name.2`, … if that is taken (nothing is overwritten). */
async function moveAside(from: string, dir: string, name: string): Promise<void> {
  let to = path.join(dir, name);
  for (let n = 2; await lstatOrNull(to); n++) to = path.join(dir, `${name}.${n}`);
  await place(from, to);
}

/** Rename `from` to `to` (free); across devices a copy, placed whole under `to`, then the source removed. */
async function place(from: string, to: string): Promise<void> {
  try {
    await renameEntry(from, to);
  } catch (err) {
    if (!isExdev(err)) throw err;
    const partial = `${to}.gpm-partial`;
    await removeEntry(partial);
    await copyEntry(from, partial);
    await fsyncDir(path.dirname(partial));
    await fsp.rename(fsPath(partial), fsPath(to));
    await removeEntry(from).catch((e: unknown) => {
      if (errnoCode(e) !== "ENOENT") throw e;
    });
  }
}
