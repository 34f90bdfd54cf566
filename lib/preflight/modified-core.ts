import { errorMessage } from "../util/errors.js";
import { currentManifest } from "../store/manifest.js";
import { compareWithRecord, readFilesRecord, coreFiles, type FileRecord } from "../store/files-record.js";
import { pass, warn, type CheckResult, type PreflightInput } from "./types.js";

export const MODIFIED_CORE = "modified-core";
const SHOWN = 5;

/**
 * Local edits to core files are replaced by the upgrade (they stay in the
 * snapshot): worth a warning, not a block.
 */
export async function checkModifiedCore({ inst, installed }: PreflightInput): Promise<CheckResult> {
  const manifest = await currentManifest(inst, installed);
  const unmanaged = pass(MODIFIED_CORE, "no record of the installed files (unmanaged installation)");
  if (!manifest) return unmanaged;
  let record: FileRecord | undefined;
  try {
    record = await readFilesRecord(inst, manifest);
  } catch (err) {
    return warn(MODIFIED_CORE, `the file record of ${manifest.id} is unreadable: ${errorMessage(err)}`, "local changes to core files cannot be detected; check them by hand (they will be replaced)");
  }
  if (record === undefined) return unmanaged;
  let drift;
  try {
    drift = await compareWithRecord(inst.root, coreFiles(record, manifest.core));
  } catch (err) {
    return warn(MODIFIED_CORE, `the file record of ${manifest.id} is unusable: ${errorMessage(err)}`, "local changes to core files cannot be detected; check them by hand (they will be replaced)");
  }
  const changed = [...drift.modified.map((p) => `${p} (modified)`), ...drift.missing.map((p) => `${p} (missing)`)];
  if (changed.length === 0) return pass(MODIFIED_CORE, `${drift.checked} core files match the record of ${manifest.id}`);
  const more = changed.length > SHOWN ? `, and ${changed.length - SHOWN} more` : "";
  return warn(
    MODIFIED_CORE,
    `${changed.length} core file${changed.length > 1 ? "s differ" : " differs"} from ${manifest.to} as installed: ${changed.slice(0, SHOWN).join(", ")}${more}`,
    "the upgrade replaces them (the current ones stay in the snapshot); re-apply local edits afterwards, or see `gpm verify`",
  );
}
