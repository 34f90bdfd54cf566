/**
 * Preflight: every check of an upgrade, run without changing anything (not a
 * byte, `.gpm/` included), so `gpm preflight` is safe on a live site.
 */
import { fail, GpmError, errorMessage } from "../util/errors.js";
import { AbortedError } from "../util/signals.js";
import { failed, type Check, type CheckResult, type PreflightInput } from "./types.js";
import { checkRuntimeNode, RUNTIME_NODE } from "./runtime-node.js";
import { checkRuntimePhp, RUNTIME_PHP } from "./runtime-php.js";
import { checkPhpExtensions, PHP_EXTENSIONS } from "./php-extensions.js";
import { checkDiskSpace, DISK_SPACE } from "./disk-space.js";
import { checkRootWritable, ROOT_WRITABLE } from "./root-writable.js";
import { checkSameFilesystem, SAME_FILESYSTEM } from "./same-filesystem.js";
import { checkPluginConflicts, PLUGIN_CONFLICTS } from "./plugin-conflicts.js";
import { checkPluginDependencies, PLUGIN_DEPENDENCIES } from "./plugin-dependencies.js";
import { checkPluginUpdates, PLUGIN_UPDATES } from "./plugin-updates.js";
import { checkModifiedCore, MODIFIED_CORE } from "./modified-core.js";
import { checkPendingTransaction, PENDING_TRANSACTION } from "./pending-transaction.js";
import { checkRecoveryMode, RECOVERY_MODE } from "./recovery-mode.js";
import { checkMaintenanceFlag, MAINTENANCE_FLAG } from "./maintenance-flag.js";
import { checkStateNotServed, STATE_NOT_SERVED } from "./state-not-served.js";
import { checkSmokeCommand, checkPostUpgradeCommand, SMOKE_COMMAND, POST_UPGRADE_COMMAND } from "./smoke-command.js";

export type { CheckResult, CheckStatus, PreflightInput } from "./types.js";

/** Every check, in the order results are reported. */
export const CHECKS: readonly Check[] = [
  { id: PENDING_TRANSACTION, run: checkPendingTransaction },
  { id: RECOVERY_MODE, run: checkRecoveryMode },
  { id: MAINTENANCE_FLAG, run: checkMaintenanceFlag },
  { id: RUNTIME_NODE, run: checkRuntimeNode },
  { id: RUNTIME_PHP, run: checkRuntimePhp },
  { id: PHP_EXTENSIONS, run: checkPhpExtensions },
  { id: DISK_SPACE, run: checkDiskSpace },
  { id: ROOT_WRITABLE, run: checkRootWritable },
  { id: SAME_FILESYSTEM, run: checkSameFilesystem },
  { id: PLUGIN_CONFLICTS, run: checkPluginConflicts },
  { id: PLUGIN_DEPENDENCIES, run: checkPluginDependencies },
  { id: PLUGIN_UPDATES, run: checkPluginUpdates },
  { id: MODIFIED_CORE, run: checkModifiedCore },
  { id: SMOKE_COMMAND, run: checkSmokeCommand },
  { id: POST_UPGRADE_COMMAND, run: checkPostUpgradeCommand },
  { id: STATE_NOT_SERVED, run: checkStateNotServed },
];

/** The ids a user may pass to `--ignore-check` (part of the user contract). */
export const CHECK_IDS: readonly string[] = CHECKS.map((c) => c.id);

/**
 * Run every check (concurrently: they only read) and return one result per
 * check, in CHECKS order. A check that cannot run (an unreadable folder, a
 * corrupt file) is a `fail` naming why, rather than aborting the others; only
 * an interruption (SIGINT/SIGTERM) stops preflight.
 */
export async function runPreflight(input: PreflightInput): Promise<CheckResult[]> {
  return Promise.all(
    CHECKS.map(async (check): Promise<CheckResult> => {
      try {
        const r = await check.run(input);
        input.log.debug({ check: r.id, status: r.status }, r.message);
        return r;
      } catch (err) {
        if (err instanceof AbortedError) throw err;
        input.log.debug({ check: check.id, err }, "check could not run");
        const hint = err instanceof GpmError && err.hint ? err.hint : "fix the cause and run preflight again";
        return failed(check.id, `the check could not run: ${errorMessage(err)}`, hint);
      }
    }),
  );
}

export interface BlockingOptions {
  /** Check ids the user chose to ignore (`--ignore-check ID`, repeatable). */
  ignore: readonly string[];
  /** `--force`: no failure blocks. */
  force: boolean;
}

/**
 * The failures that block an upgrade: every `fail` whose id is not ignored;
 * none with `force`. Warnings never block. An ignore id that is not a check id
 * is bad input (exit 1), checked even with `force`, so a typo is never taken
 * for an override that silently did nothing.
 */
export function blockingFailures(results: readonly CheckResult[], opts: BlockingOptions): CheckResult[] {
  const unknown = opts.ignore.filter((id) => !CHECK_IDS.includes(id));
  if (unknown.length > 0) {
    throw fail(`unknown check id${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => `"${u}"`).join(", ")}; known: ${CHECK_IDS.join(", ")}`, "pass --ignore-check with one of the known ids (see `gpm preflight`)");
  }
  if (opts.force) return [];
  return results.filter((r) => r.status === "fail" && !opts.ignore.includes(r.id));
}
