import path from "node:path";
import fsp from "node:fs/promises";
import { fail, errnoCode } from "../util/errors.js";
import { readJsonIfExists, writeJsonDurable, exists } from "../util/fsx.js";
import { SAFE_NAME, isSafeName } from "./names.js";
import { snapshotDir, snapshotPaths } from "./paths.js";
import type { Installation } from "../install/installation.js";

export type ManifestStatus = "staged" | "finalized" | "restored" | "failed" | "swapped";

export interface Manifest {
  id: string;
  /**
   * Order in the store: one more than the highest seq when the stage began, so
   * it only grows. Retention and "newest" go by it, never by a clock (a clock
   * that was set 50 years ahead once must not make the newest look oldest).
   * Manifests written before seq existed read as 0 (older than every new one).
   */
  seq: number;
  /** Kept from retention (`gpm snapshots pin`, or a rollback --with-user left the replaced user/ here). */
  pinned: boolean;
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
  /** Maintenance on → off (ms), for a finalized and for a failed, restored attempt alike. */
  downtimeMs: number | null;
  /** The renames of the swap alone (timings.swap), apart from postUpgrade and the smoke check. Absent in manifests older than the field. */
  swapMs?: number | null;
  smoke: { command: string[] | null; exitCode: number | null; output: string; healthUrl?: string | null; status?: number | null } | null;
  error: string | null;
  /** Each rollback or redo: when, which version went live, whether user/ was swapped too, and its downtime. */
  swaps: { at: string; live: string | null; user?: boolean; downtimeMs?: number }[];
}

/** Manifest ids are `[A-Za-z0-9._-]+`; anything else is refused before it can become a path (invariant 7). */
export const MANIFEST_ID = SAFE_NAME;
export const isValidId = isSafeName;
export { snapshotDir };

/** A top-level entry name as a manifest's `core` lists it: one path segment that cannot climb out. */
export function isEntryName(n: unknown): boolean {
  return typeof n === "string" && n !== "" && n !== "." && n !== ".." && !/[/\\\0]/.test(n);
}

/** `20251017T235348Z-1.8.0`: sortable by time, unique within the store. */
export async function newManifestId(inst: Installation, to: string, now = new Date()): Promise<string> {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const safeTo = to.replace(/[^A-Za-z0-9._-]/g, "_");
  let id = `${stamp}-${safeTo}`;
  for (let n = 2; await exists(path.join(inst.paths.snapshots, id)); n++) id = `${stamp}-${safeTo}-${n}`;
  return id;
}

export function manifestPath(inst: Installation, id: string): string {
  return snapshotPaths(inst, id).manifest;
}

export async function writeManifest(inst: Installation, m: Manifest): Promise<void> {
  await writeJsonDurable(manifestPath(inst, m.id), m);
}

export async function readManifest(inst: Installation, id: string): Promise<Manifest | undefined> {
  const m = await readJsonIfExists<Manifest>(manifestPath(inst, id));
  return m && withDefaults(m);
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
      const m = await readJsonIfExists<Manifest>(manifestPath(inst, name));
      // Its core names become moves of whole entries: each must be one top-level name (invariant 7).
      const coreOk = m?.core === undefined || (Array.isArray(m.core) && m.core.every(isEntryName));
      if (m && m.id === name && coreOk) out.push(withDefaults(m));
    } catch {
      // A torn, foreign or tampered manifest is skipped, never trusted.
    }
  }
  return out.sort(bySeq);
}

/** Oldest first: by seq; manifests from before seq (all 0) by createdAt, then id. */
export function bySeq(a: Manifest, b: Manifest): number {
  if (a.seq !== b.seq) return a.seq - b.seq;
  return a.createdAt === b.createdAt ? a.id.localeCompare(b.id) : a.createdAt.localeCompare(b.createdAt);
}

/** Fields added after a manifest may have been written get their neutral values (never written back here). */
function withDefaults(m: Manifest): Manifest {
  const seq = typeof m.seq === "number" && Number.isSafeInteger(m.seq) && m.seq >= 0 ? m.seq : 0;
  return { ...m, seq, pinned: m.pinned === true };
}

/** The seq of a new manifest: one more than any in the store (or in a record of one). */
export async function nextSeq(inst: Installation): Promise<number> {
  return Math.max(0, ...(await listManifests(inst)).map((m) => m.seq)) + 1;
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
