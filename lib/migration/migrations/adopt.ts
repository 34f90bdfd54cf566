import { GPM_VERSION, readAppVersion, readMetadata, requireInstalledVersion, writeMetadata, type Installation } from "../../install/installation.js";
import type { Logger } from "../../util/log.js";
import { restoreBackup } from "../backup.js";
import type { Migration } from "../types.js";

/**
 * Structure 0 → 1 (prompt): adopt an unmanaged installation (SPEC section 7).
 * A root gpm never wrote to has no `.gpm/metadata.json`; this writes it, with
 * the version the application declares. It is `prompt` so that no other
 * command adopts a site as a side effect: only `gpm migrate-installation`
 * with a yes (or the first upgrade, which records the structure it writes).
 * Touches: the metadata file only (absent before, so undo removes it).
 */
export const adopt: Migration = {
  from: 0,
  to: 1,
  risk: "prompt",
  description: "adopt the unmanaged installation: write .gpm/metadata.json",
  touches: async (inst: Installation) => [inst.paths.metadata],
  async migrate(inst: Installation, log: Logger): Promise<void> {
    const cur = await readMetadata(inst);
    if (cur && cur.structure_version >= 1) return; // adopted by an earlier, interrupted run
    await requireInstalledVersion(inst);
    const version = await readAppVersion(inst);
    await writeMetadata(inst, { structure_version: 1, installation_version: version, created_by: GPM_VERSION, last_upgraded: null });
    log.info(`adopted ${inst.root} (application version ${version ?? "unknown"})`);
  },
  rollback: (inst: Installation, log: Logger) => restoreBackup(inst, 0, 1, log),
};
