import path from "node:path";
import fsp from "node:fs/promises";
import { fail, errnoCode } from "../util/errors.js";
import { readJsonIfExists, writeJsonDurable } from "../util/fsx.js";
import type { Installation } from "../install/installation.js";

export type ManifestStatus = "staged" | "promoted" | "finalized" | "restored" | "failed" | "swapped";

export interface Manifest {
  id: string;
  kind: "upgrade";
  from: string | null;
  to: string;
  createdAt: string;
  finishedAt: string | null;
  status: ManifestStatus;
  /** `asset`: the package's file name (the GitHub asset assetPattern chose). */
  package: { url: string; sha256: string; size: number; asset?: string | null };
  runtime: { node: string; php: string | null; os: string };
  packages: { name: string; version: string | null; enabled: boolean }[];
  /** Top-level entries the upgrade swapped (put live from the package, or moved aside when dropped). */
  core: string[];
  preserved: string[];
  files: { count: number; bytes: number };
  timings: Record<string, number>;
  downtimeMs: number | null;
  smoke: { command: string[] | null; exitCode: number | null; output: string; healthUrl?: string | null; status?: number | null } | null;
  error: string | null;
  /** Each rollback or redo: when, which version went live, and its downtime. */
  swaps: { at: string; live: string | null; downtimeMs?: number }[];
}

/** Manifest ids are `[A-Za-z0-9._-]+`; anything else is refused before it can become a path (invariant 7). */
export const MANIFEST_ID = /^[A-Za-z0-9._-]+$/;

/** A top-level entry name as a manifest's `core` lists it: one path segment that cannot climb out. */
export function isEntryName(n: unknown): boolean {
  return typeof n === "string" && n !== "" && n !== "." && n !== ".." && !/[/\\\0]/.test(n);
}

export function isValidId(id: string): boolean {
  return MANIFEST_ID.test(id) && id !== "." && id !== ".." && id.length <= 200;
}

/** `20251017T235348Z-1.8.0`: sortable by time, unique within the store. */
export async function newManifestId(inst: Installation, to: string, now = new Date()): Promise<string> {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const safeTo = to.replace(/[^A-Za-z0-9._-]/g, "_");
  let id = `${stamp}-${safeTo}`;
  for (let n = 2; await dirExists(path.join(inst.paths.snapshots, id)); n++) id = `${stamp}-${safeTo}-${n}`;
  return id;
}

async function dirExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

export function snapshotDir(inst: Installation, id: string): string {
  if (!isValidId(id)) throw fail(`"${id}" is not a manifest id`, "list them with `gpm snapshots`");
  return path.join(inst.paths.snapshots, id);
}

export function manifestPath(inst: Installation, id: string): string {
  return path.join(snapshotDir(inst, id), "manifest.json");
}

export async function writeManifest(inst: Installation, m: Manifest): Promise<void> {
  await writeJsonDurable(manifestPath(inst, m.id), m);
}

export async function readManifest(inst: Installation, id: string): Promise<Manifest | undefined> {
  return readJsonIfExists<Manifest>(manifestPath(inst, id));
}

/**
 * Look up a manifest id given on the command line: it must be the id of an
 * existing manifest (SPEC section 6), else exit 1; it is never used as a path
 * before that.
 */
export async function requireManifest(inst: Installation, id: string): Promise<Manifest> {
  const all = await listManifests(inst);
  const m = all.find((x) => x.id === id);
  if (!m) throw fail(`no manifest with id "${id}"`, "list them with `gpm snapshots`");
  return m;
}

/** Every readable manifest in the store, oldest first (by createdAt, then id). */
export async function listManifests(inst: Installation): Promise<Manifest[]> {
  let names: string[];
  try {
    names = await fsp.readdir(inst.paths.snapshots);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return [];
    throw err;
  }
  const out: Manifest[] = [];
  for (const name of names) {
    if (!isValidId(name)) continue;
    try {
      const m = await readJsonIfExists<Manifest>(path.join(inst.paths.snapshots, name, "manifest.json"));
      // Its core names become moves of whole entries: each must be one top-level name (invariant 7).
      const coreOk = m?.core === undefined || (Array.isArray(m.core) && m.core.every(isEntryName));
      if (m && m.id === name && coreOk) out.push(m);
    } catch {
      // A torn, foreign or tampered manifest is skipped, never trusted.
    }
  }
  return out.sort((a, b) => (a.createdAt === b.createdAt ? a.id.localeCompare(b.id) : a.createdAt.localeCompare(b.createdAt)));
}

/**
 * The manifest that describes the live tree: the newest finalized upgrade to
 * the installed version (after a rollback, the swapped one holds the other
 * tree, so it is not it). None for an unmanaged installation.
 */
export async function currentManifest(inst: Installation, installed: string | null): Promise<Manifest | undefined> {
  if (!installed) return undefined;
  return (await listManifests(inst)).filter((m) => m.status === "finalized" && m.to === installed).pop();
}
