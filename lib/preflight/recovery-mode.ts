import path from "node:path";
import { readJsonIfExists } from "../util/fsx.js";
import { exists } from "../util/fsx.js";
import { pass, failed, type CheckResult, type PreflightInput } from "./types.js";

export const RECOVERY_MODE = "recovery-mode";

export async function checkRecoveryMode({ inst }: PreflightInput): Promise<CheckResult> {
  const flag = inst.paths.recoveryFlag;
  if (!(await exists(flag))) return pass(RECOVERY_MODE, "not in recovery mode");
  let reason = "";
  try {
    const json = await readJsonIfExists<{ reason?: unknown }>(flag);
    if (typeof json?.reason === "string" && json.reason) reason = ` (reason: ${json.reason})`;
  } catch {
    // A flag that is not JSON (the application may write its own) still means recovery mode.
  }
  return failed(RECOVERY_MODE, `the installation is in recovery mode: ${path.relative(inst.root, flag)} exists${reason}`, "repair the site first (`gpm recovery status`, `gpm rollback`), then `gpm recovery clear`");
}
