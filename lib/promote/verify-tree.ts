import type { Installation } from "../install/installation.js";
import type { Manifest } from "../store/manifest.js";
import { walkFiles } from "../util/fsx.js";
import { fail } from "../util/errors.js";
import { compareWithRecord, readFilesRecord, coreFiles } from "../store/files-record.js";

export interface Drift {
  path: string;
  kind: "modified" | "missing" | "added";
}

/**
 * `gpm verify`: the live core files against the manifest's files.json (sha256
 * of each file as released). Files added under a core entry count as drift
 * too: an upgrade replaces the entry whole, so they would go with it.
 */
export async function verifyTree(inst: Installation, m: Manifest): Promise<{ checked: number; drift: Drift[] }> {
  const record = await readFilesRecord(inst, m);
  if (!record) throw fail(`snapshot ${m.id} has no files.json to verify against`, "it may have been pruned or damaged");
  const core = coreFiles(record, m.core);
  const { modified, missing, checked } = await compareWithRecord(inst.root, core);
  const drift: Drift[] = [...modified.map((p) => ({ path: p, kind: "modified" as const })), ...missing.map((p) => ({ path: p, kind: "missing" as const }))];
  for (const entry of m.core) {
    await walkFiles(inst.root, entry, (rel) => {
      if (!(rel in core)) drift.push({ path: rel, kind: "added" });
    });
  }
  return { checked, drift: drift.sort((a, b) => a.path.localeCompare(b.path)) };
}
