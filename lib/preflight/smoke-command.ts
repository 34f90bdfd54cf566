import { findExecutable } from "./fs-probe.js";
import { pass, warn, failed, type CheckResult, type PreflightInput } from "./types.js";

export const SMOKE_COMMAND = "smoke-command";
export const POST_UPGRADE_COMMAND = "post-upgrade-command";

/**
 * argv[0] of a configured command must be runnable, or the upgrade would fail
 * (and be undone) only after the swap. A bare name is looked up on PATH; a
 * path is relative to the root. A relative path that is missing from the live
 * tree is only a warning: the new release may bring it.
 */
async function checkCommand(id: string, key: "smokeCheck" | "postUpgrade", argv: string[] | null | undefined, root: string): Promise<CheckResult> {
  const what = key === "smokeCheck" ? "smoke check" : "post-upgrade";
  if (!argv || argv.length === 0) return pass(id, `no ${what} command configured`);
  const cmd = argv[0]!;
  const where = await findExecutable(cmd, root);
  const setIt = `set ${key} in gpm.json (null disables it)`;
  if (where.found) return pass(id, `${what} command \`${cmd}\` found: ${where.path}`);
  if (where.reason === "not-on-path") return failed(id, `${what} command \`${cmd}\` not found on PATH`, `install it or ${setIt}`);
  if (where.reason === "not-executable") return failed(id, `${what} command \`${cmd}\` is not an executable file`, `make ${where.path} executable (chmod +x) or ${setIt}`);
  return warn(id, `${what} command \`${cmd}\` is not in the installed tree`, `make sure the new release provides it, or ${setIt}`);
}

export async function checkSmokeCommand({ inst }: PreflightInput): Promise<CheckResult> {
  return checkCommand(SMOKE_COMMAND, "smokeCheck", inst.config.smokeCheck?.command, inst.root);
}

export async function checkPostUpgradeCommand({ inst }: PreflightInput): Promise<CheckResult> {
  return checkCommand(POST_UPGRADE_COMMAND, "postUpgrade", inst.config.postUpgrade, inst.root);
}
