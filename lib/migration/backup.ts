import path from "node:path";
import fsp from "node:fs/promises";
import { fail } from "../util/errors.js";
import { fsyncDir, isInside, lstatOrNull, readJsonIfExists, writeJsonDurable } from "../util/fsx.js";
import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { giveOwner, mkdirp } from "../util/owner.js";

/**
 * Before a migration step the runner copies what the step touches into
 * `.gpm/migration-backup/<from>-<to>/files/<path relative to the root>` and
 * then writes `backup.json` (the list, and which paths did not exist). That
 * file is written last, so its presence means the copy is complete; until
 * the step is done the backup is the state before it.
 */
export interface BackupRecord {
  from: number;
  to: number;
  createdAt: string;
  entries: { path: string; existed: boolean }[];
}

export function backupRoot(inst: Installation): string {
  return path.join(inst.paths.gpmDir, "migration-backup");
}

export function backupDir(inst: Installation, from: number, to: number): string {
  return path.join(backupRoot(inst), `${from}-${to}`);
}

/** A touched path must lie inside the root and must not contain or lie within the backup store. */
function checkTouched(inst: Installation, p: string): string {
  const full = path.resolve(p);
  const store = backupRoot(inst);
  if (!isInside(inst.root, full) || full === inst.root || isInside(full, store) || isInside(store, full)) {
    throw fail(`migration touches ${p}, which is outside what a migration may change`, "this is a bug in the migration");
  }
  return full;
}

export async function readBackup(inst: Installation, from: number, to: number): Promise<BackupRecord | undefined> {
  return readJsonIfExists<BackupRecord>(path.join(backupDir(inst, from, to), "backup.json"));
}

/**
 * Back up `paths`. A complete backup already there (an earlier run of this
 * step died before finishing) is kept as it is: it holds the state before the
 * step, and the tree now may be half-migrated.
 */
export async function takeBackup(inst: Installation, from: number, to: number, paths: string[], log: Logger): Promise<BackupRecord> {
  const existing = await readBackup(inst, from, to).catch(() => undefined);
  if (existing) {
    log.warn(`structure migration ${from}→${to} was interrupted earlier; continuing it from its backup`);
    return existing;
  }
  const touched = [...new Set(paths.map((x) => checkTouched(inst, x)))]; // all checked before anything is written
  const dir = backupDir(inst, from, to);
  await fsp.rm(dir, { recursive: true, force: true }); // an incomplete copy from a crash
  await mkdirp(path.join(dir, "files"));
  const entries: BackupRecord["entries"] = [];
  for (const p of touched) {
    const rel = path.relative(inst.root, p);
    const existed = (await lstatOrNull(p)) !== null;
    if (existed) await copyDurable(p, path.join(dir, "files", rel));
    entries.push({ path: rel, existed });
  }
  const record: BackupRecord = { from, to, createdAt: new Date().toISOString(), entries };
  await writeJsonDurable(path.join(dir, "backup.json"), record);
  await fsyncDir(backupRoot(inst));
  return record;
}

/**
 * Put every backed-up path back as it was (and remove the ones that did not
 * exist). Each is copied beside its place first and then renamed in, so a
 * crash leaves either the migrated or the restored entry, plus a leftover copy.
 */
export async function restoreBackup(inst: Installation, from: number, to: number, log: Logger): Promise<void> {
  const record = await readBackup(inst, from, to);
  if (!record) throw fail(`no complete backup for structure migration ${from}→${to} in ${backupDir(inst, from, to)}`);
  for (const e of record.entries) {
    const target = checkTouched(inst, path.join(inst.root, e.path));
    const tmp = `${target}.gpm-restore`;
    await fsp.rm(tmp, { recursive: true, force: true });
    if (e.existed) await copyDurable(path.join(backupDir(inst, from, to), "files", e.path), tmp);
    await fsp.rm(target, { recursive: true, force: true });
    if (e.existed) await fsp.rename(tmp, target);
    await fsyncDir(path.dirname(target));
    log.debug({ path: e.path }, "restored from the migration backup");
  }
}

export async function discardBackup(inst: Installation, from: number, to: number): Promise<void> {
  await fsp.rm(backupDir(inst, from, to), { recursive: true, force: true });
  if (await lstatOrNull(backupRoot(inst))) {
    await fsp.rmdir(backupRoot(inst)).catch(() => undefined); // only when empty
    await fsyncDir(inst.paths.gpmDir);
  }
}

/** Remove backups of steps at or below `structure` (left by a crash after the version was raised). */
export async function discardStaleBackups(inst: Installation, structure: number): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(backupRoot(inst));
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^(\d+)-(\d+)$/.exec(n);
    if (m && Number(m[2]) <= structure) await discardBackup(inst, Number(m[1]), Number(m[2]));
  }
}

/** Copy a file, link or folder (modes and times kept), fsyncing what it writes. */
export async function copyDurable(src: string, dst: string): Promise<void> {
  const st = await fsp.lstat(src);
  await mkdirp(path.dirname(dst));
  if (st.isSymbolicLink()) {
    await fsp.symlink(await fsp.readlink(src), dst);
    await giveOwner(dst, st);
  } else if (st.isDirectory()) {
    await fsp.mkdir(dst);
    await giveOwner(dst, st);
    for (const name of await fsp.readdir(src)) await copyDurable(path.join(src, name), path.join(dst, name));
    await fsp.chmod(dst, st.mode & 0o7777);
    await fsyncDir(dst);
    await fsp.utimes(dst, st.atime, st.mtime);
  } else if (st.isFile()) {
    await fsp.copyFile(src, dst);
    await giveOwner(dst, st);
    const fh = await fsp.open(dst, "r"); // fsync, chmod and utimes need no write access
    try {
      await fh.chmod(st.mode & 0o7777);
      await fh.utimes(st.atime, st.mtime);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } else {
    throw fail(`cannot back up ${src}: not a file, folder or link`);
  }
  await fsyncDir(path.dirname(dst));
}
