import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { fsPath, nameFromBytes } from "./byte-names.js";

/**
 * Ownership (SPEC section 1). When gpm runs as root on a tree that belongs to
 * another user (www-data), a folder or file it creates would be root's, 0755:
 * the site could no longer write `user/data/`, and a later gpm run as the
 * site's owner could not touch its own state. So everything gpm creates below
 * an installation gets the owner and group of the root folder, and everything
 * it replaces keeps the owner of what it replaced.
 *
 * The root's owner is registered once, when the installation is opened; every
 * create in lib/ goes through a helper here or in fsx.ts (mkdirp,
 * writeFileDurable/writeJsonDurable, giveOwner after an exclusive create),
 * never a bare fsp.mkdir or writeFile. Not running as root, there is nothing
 * to do: the process can only create files of its own.
 */
export interface Owner {
  uid: number;
  gid: number;
}

const roots = new Map<string, Owner>();

export function runningAsRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** Remember the owner of an installation root: what gpm creates below it gets that owner. */
export function registerTreeOwner(root: string, owner: Owner): void {
  roots.set(path.resolve(root), { uid: owner.uid, gid: owner.gid });
}

const inside = (parent: string, child: string): boolean => {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
};

/** The owner a new entry at `p` must get, or undefined when the process's own is right. */
export function ownerFor(p: string): Owner | undefined {
  if (!runningAsRoot()) return undefined;
  const full = path.resolve(p);
  let best: [string, Owner] | undefined;
  for (const e of roots) if (inside(e[0], full) && (!best || e[0].length > best[0].length)) best = e;
  if (!best) return undefined;
  const o = best[1];
  return o.uid === process.getuid?.() && o.gid === process.getgid?.() ? undefined : o;
}

/** Give `p` (never following a link) the owner `like`, or the tree's owner for a new entry. */
export async function giveOwner(p: string, like?: Owner): Promise<void> {
  const o = like && runningAsRoot() ? like : ownerFor(p);
  if (o) await fsp.lchown(p, o.uid, o.gid);
}

export function giveOwnerSync(p: string, like?: Owner): void {
  const o = like && runningAsRoot() ? like : ownerFor(p);
  if (o) fs.lchownSync(p, o.uid, o.gid);
}

/**
 * The folders of `dir` that do not exist yet, outermost first. Made one by one
 * (not `mkdir({recursive})`, which reports a read-only mount as ENOENT), so a
 * refusal carries its real errno (EROFS, EACCES) and the folder it hit.
 */
function missing(dir: string): string[] {
  const out: string[] = [];
  for (let cur = path.resolve(dir); ; cur = path.dirname(cur)) {
    try {
      fs.lstatSync(cur);
      return out;
    } catch {
      out.unshift(cur);
    }
    if (path.dirname(cur) === cur) return out;
  }
}

function made(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "EEXIST";
}

/** `mkdir -p`; every folder it creates gets the tree's owner. */
export async function mkdirp(dir: string, mode?: number): Promise<void> {
  for (const d of missing(dir)) {
    try {
      await fsp.mkdir(d, mode);
    } catch (err) {
      if (made(err)) continue; // made meanwhile by someone else: theirs
      throw err;
    }
    await giveOwner(d);
  }
}

export function mkdirpSync(dir: string, mode?: number): void {
  for (const d of missing(dir)) {
    try {
      fs.mkdirSync(d, mode);
    } catch (err) {
      if (made(err)) continue;
      throw err;
    }
    giveOwnerSync(d);
  }
}

/** lchown a whole tree (links not followed) to `owner`. */
export async function chownTree(p: string, owner: Owner): Promise<void> {
  await fsp.lchown(fsPath(p), owner.uid, owner.gid);
  const st = await fsp.lstat(fsPath(p));
  if (!st.isDirectory()) return;
  // Names as bytes (lib/util/byte-names.ts): a Latin-1 name gets its owner too.
  for (const raw of await fsp.readdir(fsPath(p), { encoding: "buffer" })) await chownTree(path.join(p, nameFromBytes(raw)), owner);
}
