/**
 * Which file record describes the live tree (`gpm verify`, preflight
 * `modified-core`): the snapshot the live tree came from (liveSource), and of
 * it the side that is live —
 *   finalized  its package went live: files.json (the release as unpacked);
 *   swapped    a rollback put its previous/ tree back: previous-files.json,
 *              written by the first rollback of that snapshot, before the swap.
 * A swapped snapshot from a gpm that wrote no previous-files.json falls back to
 * the files.json of any snapshot whose package is the live version.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import { listManifests, type Manifest } from "./manifest.js";
import { liveSource } from "./way-back.js";
import { snapshotPaths } from "./paths.js";
import { readFilesRecord, type FileRecord } from "./files-record.js";
import { listNames, readJsonIfExists, resolveInside, sha256File, walkFiles, writeJsonDurable } from "../util/fsx.js";
import { fsPath } from "../util/byte-names.js";
import { checkAbort } from "../util/signals.js";
import { isEntryName } from "./manifest.js";

export interface LiveRecord {
  /** The snapshot whose tree is live. */
  manifest: Manifest;
  /** Which of its trees: the package (upgrade or redo) or previous/ (rollback). */
  side: "package" | "previous";
  /** The version that tree is. */
  version: string;
  /** Where the hashes come from (a snapshot id: the source, or the fallback's). */
  recordFrom: string;
  files: FileRecord;
  /** Its top-level entries (what "added" files are looked for under). */
  core: string[];
}

export interface PreviousRecord {
  recordOf: "previous";
  entries: string[];
  files: FileRecord;
}

/** The live tree's record, or why there is none (an unmanaged installation, a pruned snapshot). */
export async function liveRecord(inst: Installation, installed: string | null): Promise<LiveRecordResult> {
  return liveRecordOf(inst, await listManifests(inst), installed);
}

export type LiveRecordResult = { live: LiveRecord } | { live: null; why: string };

/** liveRecord over manifests already read (oldest first): only reading a record can fail here. */
export async function liveRecordOf(inst: Installation, manifests: readonly Manifest[], installed: string | null): Promise<LiveRecordResult> {
  const source = liveSource(manifests, installed);
  if (!source || !installed) return { live: null, why: `no snapshot says gpm put the installed ${installed ?? "version"} live` };
  if (source.status === "finalized") {
    const files = await readFilesRecord(inst, source);
    if (!files) return { live: null, why: `snapshot ${source.id} has no files.json` };
    return { live: { manifest: source, side: "package", version: installed, recordFrom: source.id, files, core: source.core } };
  }
  const prev = await readPreviousRecord(inst, source);
  if (prev) return { live: { manifest: source, side: "previous", version: installed, recordFrom: source.id, files: prev.files, core: prev.entries } };
  // Rolled back by a gpm that kept no record of previous/: the release's own files, if a snapshot has its package.
  for (const m of [...manifests].reverse().filter((x) => x.to === installed)) {
    const files = await readFilesRecord(inst, m).catch(() => undefined);
    if (files) return { live: { manifest: source, side: "previous", version: installed, recordFrom: m.id, files, core: m.core } };
  }
  return { live: null, why: `snapshot ${source.id} holds no record of the ${installed} tree it rolled back to (rolled back by an older gpm)` };
}

async function readPreviousRecord(inst: Installation, m: Manifest): Promise<PreviousRecord | undefined> {
  const raw = await readJsonIfExists<PreviousRecord>(snapshotPaths(inst, m.id).previousFiles);
  if (raw === undefined) return undefined;
  const file = snapshotPaths(inst, m.id).previousFiles;
  if (typeof raw !== "object" || raw === null || !Array.isArray(raw.entries) || !raw.entries.every(isEntryName) || typeof raw.files !== "object" || raw.files === null) {
    throw new Error(`${file} is not a record of previous/`);
  }
  for (const rel of Object.keys(raw.files)) resolveInside(inst.root, rel, file); // invariant 7
  return raw;
}

/**
 * Before the first rollback of snapshot `m`: hash its previous/ tree (what is
 * about to go live), so `gpm verify` can later tell drift from it. Null when
 * the snapshot already has its record: written once, since a later rollback
 * of the same snapshot finds the tree as it left it, drift included, and must
 * not take that as the baseline. Reads only: the caller writes it
 * (writePreviousRecord) once the swap is committed, so a refused or undone
 * rollback leaves the snapshot as it was.
 */
export async function hashPrevious(inst: Installation, m: Manifest): Promise<PreviousRecord | null> {
  const sp = snapshotPaths(inst, m.id);
  if ((await fsp.lstat(sp.previousFiles).catch(() => null)) !== null) return null;
  const entries = (await listNames(sp.previous)).sort(); // names as bytes (a Latin-1 upload is a name like any other)
  const rels: string[] = [];
  for (const e of entries) await walkFiles(sp.previous, e, (rel) => rels.push(rel));
  const files: FileRecord = {};
  for (const rel of rels.sort()) {
    checkAbort();
    const full = path.join(sp.previous, rel);
    const st = await fsp.lstat(fsPath(full));
    files[rel.split(path.sep).join("/")] = { sha256: await sha256File(full), size: st.size, mode: st.mode & 0o7777 };
  }
  return { recordOf: "previous", entries, files };
}

export async function writePreviousRecord(inst: Installation, m: Manifest, record: PreviousRecord | null): Promise<void> {
  if (record) await writeJsonDurable(snapshotPaths(inst, m.id).previousFiles, record);
}
