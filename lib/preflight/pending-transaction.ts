import path from "node:path";
import { exists } from "../util/fsx.js";
import { pass, failed, type CheckResult, type PreflightInput } from "./types.js";

export const PENDING_TRANSACTION = "pending-transaction";

export async function checkPendingTransaction({ inst }: PreflightInput): Promise<CheckResult> {
  if (!(await exists(inst.paths.journal))) return pass(PENDING_TRANSACTION, "no interrupted run");
  return failed(PENDING_TRANSACTION, `an interrupted run left ${path.relative(inst.root, inst.paths.journal)}`, "an interrupted run must be repaired first: run `gpm status`");
}
