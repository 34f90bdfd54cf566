import path from "node:path";
import { conflictsWith, isBranchOnly, parseConstraint, type Constraint } from "./composer-constraint.js";
import { readComposerRequires } from "../stage/packages.js";
import { pass, warn, failed, type CheckResult, type PreflightInput } from "./types.js";
import { errorMessage } from "../util/errors.js";

export const PLUGIN_CONFLICTS = "plugin-conflicts";

/**
 * Each `conflicts` entry of the release, `{package, versions, message}`, says:
 * this release cannot live with `package` in `versions`. A plugin or theme
 * conflicts when its composer.json `require[package]` admits only versions
 * inside that range (see conflictsWith): `psr/log ^1.0` under a release that
 * ships psr/log 3 (`versions: "<3"`) conflicts; `^1.0 || ^3.0` does not.
 * Requirements that cannot be judged (a branch like `dev-master`, a malformed
 * constraint, an unreadable composer.json) are a warning, not a block.
 */
export async function checkPluginConflicts({ inst, release }: PreflightInput): Promise<CheckResult> {
  if (release.conflicts.length === 0) return pass(PLUGIN_CONFLICTS, "the release declares no conflicts");
  const rules: { package: string; versions: string; message: string | undefined; range: Constraint }[] = [];
  for (const c of release.conflicts) {
    try {
      rules.push({ package: c.package.toLowerCase(), versions: c.versions, message: c.message, range: parseConstraint(c.versions) });
    } catch (err) {
      return failed(PLUGIN_CONFLICTS, `the release's conflict rule for ${c.package}: ${errorMessage(err)}`, `ask the publisher to fix conflicts of ${release.version}, or skip this check with --ignore-check ${PLUGIN_CONFLICTS}`);
    }
  }
  const plugins = await readComposerRequires(inst);
  const conflicts: string[] = [];
  const unsure: string[] = [];
  for (const p of plugins) {
    const label = path.posix.dirname(p.path);
    if (p.error) unsure.push(`${label}: ${p.error}`);
    // Composer package names are case-insensitive.
    const require = new Map(Object.entries(p.require).map(([k, v]) => [k.toLowerCase(), v]));
    for (const rule of rules) {
      const wanted = require.get(rule.package);
      if (wanted === undefined) continue;
      let req: Constraint;
      try {
        req = parseConstraint(wanted);
      } catch (err) {
        unsure.push(`${label}: ${errorMessage(err)}`);
        continue;
      }
      if (isBranchOnly(req)) unsure.push(`${label} requires ${rule.package} "${wanted}", a branch that cannot be checked against ${rule.versions}`);
      else if (conflictsWith(req, rule.range)) {
        conflicts.push(`${label} requires ${rule.package} "${wanted}", but ${release.version} conflicts with ${rule.package} ${rule.versions}${rule.message ? ` (${rule.message})` : ""}`);
      }
    }
  }
  if (conflicts.length > 0) {
    return failed(
      PLUGIN_CONFLICTS,
      `${conflicts.length} incompatible plugin/theme requirement${conflicts.length > 1 ? "s" : ""}: ${conflicts.join("; ")}`,
      `update or remove ${conflicts.length > 1 ? "these plugins/themes" : "this plugin/theme"} before upgrading (or --ignore-check ${PLUGIN_CONFLICTS} at your own risk)`,
    );
  }
  if (unsure.length > 0) return warn(PLUGIN_CONFLICTS, `cannot check ${unsure.length} plugin/theme requirement${unsure.length > 1 ? "s" : ""}: ${unsure.join("; ")}`, "check them by hand against the release notes");
  return pass(PLUGIN_CONFLICTS, `${plugins.length} plugin/theme composer.json file${plugins.length === 1 ? "" : "s"} checked against ${rules.length} conflict rule${rules.length === 1 ? "" : "s"}`);
}
