import path from "node:path";
import { readJsonIfExists, exists } from "../util/fsx.js";
import { pass, failed, type CheckResult, type PreflightInput } from "./types.js";

export const MAINTENANCE_FLAG = "maintenance-flag";

/**
 * The maintenance flag is up only during promote. One still there when a new
 * run starts (and the start-of-command repair did not clear it) means a
 * previous run ended badly, or another gpm is promoting right now.
 */
export async function checkMaintenanceFlag({ inst }: PreflightInput): Promise<CheckResult> {
  const flag = inst.paths.maintenanceFlag;
  const rel = path.relative(inst.root, flag);
  if (!(await exists(flag))) return pass(MAINTENANCE_FLAG, `no maintenance flag (${rel})`);
  let detail = "";
  try {
    const j = await readJsonIfExists<{ startedAt?: unknown; pid?: unknown; from?: unknown; to?: unknown }>(flag);
    const parts = [j?.from && j?.to ? `${String(j.from)} -> ${String(j.to)}` : "", j?.startedAt ? `started ${String(j.startedAt)}` : "", j?.pid ? `pid ${String(j.pid)}` : ""].filter(Boolean);
    if (parts.length) detail = ` (${parts.join(", ")})`;
  } catch {}
  return failed(MAINTENANCE_FLAG, `a previous run left ${rel}${detail}: the site may still be answering 503`, "if no gpm is running, run `gpm status` to repair the installation; remove the flag by hand only after checking the site");
}
