import { errorMessage } from "../util/errors.js";
import { compareWithRecord, coreFiles } from "../store/files-record.js";
import { liveRecordOf, type LiveRecord } from "../store/live-record.js";
import { listManifests } from "../store/manifest.js";
import { pass, warn, type CheckResult, type PreflightInput } from "./types.js";

export const MODIFIED_CORE = "modified-core";
const SHOWN = 5;

/**
 * Local edits to core files are replaced by the upgrade (they stay in the
 * snapshot): worth a warning, not a block.
 */
export async function checkModifiedCore({ inst, installed }: PreflightInput): Promise<CheckResult> {
  const unmanaged = pass(MODIFIED_CORE, "no record of the installed files (unmanaged installation)");
  // An unreadable snapshot store: the check cannot run (runPreflight makes that a fail).
  const manifests = await listManifests(inst);
  let live: LiveRecord | null;
  try {
    live = (await liveRecordOf(inst, manifests, installed)).live;
  } catch (err) {
    return warn(MODIFIED_CORE, `the file record of the live tree is unreadable: ${errorMessage(err)}`, "local changes to core files cannot be detected; check them by hand (they will be replaced)");
  }
  if (!live) return unmanaged;
  let drift;
  try {
    drift = await compareWithRecord(inst.root, coreFiles(live.files, live.core));
  } catch (err) {
    return warn(MODIFIED_CORE, `the file record of ${live.recordFrom} is unusable: ${errorMessage(err)}`, "local changes to core files cannot be detected; check them by hand (they will be replaced)");
  }
  const changed = [...drift.modified.map((p) => `${p} (modified)`), ...drift.missing.map((p) => `${p} (missing)`)];
  if (changed.length === 0) return pass(MODIFIED_CORE, `${drift.checked} core files match the record of ${live.recordFrom}`);
  const more = changed.length > SHOWN ? `, and ${changed.length - SHOWN} more` : "";
  return warn(
    MODIFIED_CORE,
    `${changed.length} core file${changed.length > 1 ? "s differ" : " differs"} from ${live.version} as installed: ${changed.slice(0, SHOWN).join(", ")}${more}`,
    "the upgrade replaces them (the current ones stay in the snapshot); re-apply local edits afterwards, or see `gpm verify`",
  );
}
