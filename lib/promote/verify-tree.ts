import type { Installation } from "../install/installation.js";
import { walkFiles } from "../util/fsx.js";
import { compareWithRecord, coreFiles, type FileRecord } from "../store/files-record.js";

export interface Drift {
  path: string;
  kind: "modified" | "missing" | "added";
}

/**
 * `gpm verify`: the live core files against the record of the live tree
 * (lib/store/live-record.ts: sha256 of each file as gpm put it live). Files added under a core entry count as drift
 * too: an upgrade replaces the entry whole, so they would go with it.
 */
export async function verifyTree(inst: Installation, record: FileRecord, entries: readonly string[]): Promise<{ checked: number; drift: Drift[] }> {
  const core = coreFiles(record, entries);
  const { modified, missing, checked } = await compareWithRecord(inst.root, core);
  const drift: Drift[] = [...modified.map((p) => ({ path: p, kind: "modified" as const })), ...missing.map((p) => ({ path: p, kind: "missing" as const }))];
  for (const entry of entries) {
    await walkFiles(inst.root, entry, (rel) => {
      if (!(rel in core)) drift.push({ path: rel, kind: "added" });
    });
  }
  return { checked, drift: drift.sort((a, b) => a.path.localeCompare(b.path)) };
}
