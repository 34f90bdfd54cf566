import path from "node:path";
import { readRecoveryFlag } from "../recovery-mode/flag.js";
import { pass, failed, type CheckResult, type PreflightInput } from "./types.js";

export const RECOVERY_MODE = "recovery-mode";

/** The recovery flag, read the way `gpm recovery status` reads it (an unreadable flag is still "on"). */
export async function checkRecoveryMode({ inst }: PreflightInput): Promise<CheckResult> {
  const flag = await readRecoveryFlag(inst);
  if (!flag) return pass(RECOVERY_MODE, "not in recovery mode");
  return failed(
    RECOVERY_MODE,
    `the installation is in recovery mode: ${path.relative(inst.root, inst.paths.recoveryFlag)} exists (reason: ${flag.reason})`,
    "repair the site first (`gpm recovery status`, `gpm rollback`), then `gpm recovery clear`",
  );
}
