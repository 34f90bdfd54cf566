import fsp from "node:fs/promises";
import { sha256File, resolveInside, readJsonIfExists } from "../util/fsx.js";
import type { Installation } from "../install/installation.js";
import type { Manifest } from "./manifest.js";
import { snapshotPaths } from "./paths.js";
import { checkAbort } from "../util/signals.js";
import { fsPath } from "../util/byte-names.js";

/** `snapshots/<id>/files.json`: every file of a release's package, as it was unpacked. */
export type FileRecord = Record<string, { sha256: string; size: number; mode: number }>;

/** The files.json of a manifest, or undefined when there is none. */
export async function readFilesRecord(inst: Installation, m: Manifest): Promise<FileRecord | undefined> {
  const record = await readJsonIfExists<FileRecord>(snapshotPaths(inst, m.id).files);
  if (record === undefined) return undefined;
  if (typeof record !== "object" || record === null || Array.isArray(record)) throw new Error(`files.json of ${m.id} is not a JSON object`);
  for (const rel of Object.keys(record)) resolveInside(inst.root, rel, `files.json of ${m.id}`); // invariant 7
  return record;
}

/** Only the files under the manifest's core entries: preserved ones (robots.txt, user/…) were never installed from it. */
export function coreFiles(record: FileRecord, core: readonly string[]): FileRecord {
  const top = new Set(core);
  return Object.fromEntries(Object.entries(record).filter(([rel]) => top.has(rel.split("/")[0]!)));
}

export interface Drift {
  modified: string[];
  missing: string[];
  checked: number;
}

const PARALLEL = 8;

/**
 * Compare the live files below `root` with a files.json record: a file is
 * missing when it is gone or no longer a regular file, modified when its size
 * or sha256 differs. Modes are not compared (umask and chown make them differ
 * without anyone editing anything). Record paths are checked to stay inside
 * the root before they are read (invariant 7); read-only.
 */
export async function compareWithRecord(root: string, record: FileRecord): Promise<Drift> {
  const entries = Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
  for (const [rel] of entries) resolveInside(root, rel, "files.json");
  const modified: string[] = [];
  const missing: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < entries.length) {
      checkAbort();
      const [rel, want] = entries[next++]!;
      const full = resolveInside(root, rel, "files.json");
      let st;
      try {
        st = await fsp.lstat(fsPath(full));
      } catch {
        missing.push(rel);
        continue;
      }
      if (!st.isFile()) missing.push(rel);
      else if (st.size !== want.size || (await sha256File(full)) !== want.sha256) modified.push(rel);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, entries.length) }, worker));
  return { modified: modified.sort(), missing: missing.sort(), checked: entries.length };
}
