import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { exists } from "../util/fsx.js";

export interface RecoveryReport {
  summary: string;
}

/** Is there an interrupted run to repair (a journal, or a maintenance flag of a dead run)? */
export async function needsRecovery(inst: Installation): Promise<boolean> {
  return (await exists(inst.paths.journal)) || (await exists(inst.paths.maintenanceFlag));
}

// Filled in with the transaction layer.
export async function recoverInterrupted(_inst: Installation, _log: Logger): Promise<RecoveryReport | null> {
  return null;
}
