import { versioning } from "../util/version.js";
import type { Installation } from "../install/installation.js";
import { failed, pass, warn, type CheckResult } from "./types.js";

export const VERSION_POLICY = "version-policy";

/**
 * The downgrade rule, one definition for `self-upgrade` (which refuses, exit 3)
 * and `preflight` (which reports it as a check): a target older than the
 * installed version fails unless `--allow-downgrade`. Not an `--ignore-check`
 * id: only `--allow-downgrade` lets a downgrade through.
 */
export function checkVersionPolicy(inst: Installation, installed: string | null, target: string, allowDowngrade: boolean): CheckResult & { cmp: number | null } {
  if (!installed) return { ...pass(VERSION_POLICY, `installing ${target} (the installed version is unknown)`), cmp: null };
  const cmp = versioning(inst.config.versionScheme).compare(target, installed);
  if (cmp === 0) return { ...pass(VERSION_POLICY, `${target} is already installed; self-upgrade would change nothing`), cmp };
  if (cmp > 0) return { ...pass(VERSION_POLICY, `${installed} → ${target} is an upgrade`), cmp };
  if (allowDowngrade) return { ...warn(VERSION_POLICY, `${installed} → ${target} is a downgrade (allowed by --allow-downgrade)`, "make sure the older release can read the site's data"), cmp };
  return { ...failed(VERSION_POLICY, `${target} is older than the installed ${installed}`, "pass --allow-downgrade to install an older release"), cmp };
}
