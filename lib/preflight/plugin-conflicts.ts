import { conflictsWith, isBranchOnly, parseConstraint, satisfies, type Constraint } from "./composer-constraint.js";
import { readPlugins } from "../install/plugins.js";
import { failed, pass, type CheckResult, type PreflightInput } from "./types.js";
import { pluginVerdict, type PluginProblem } from "./plugin-verdict.js";
import { errorMessage } from "../util/errors.js";

export const PLUGIN_CONFLICTS = "plugin-conflicts";

/**
 * Each `conflicts` entry of the release, `{package, versions, message}`, says:
 * this release cannot live with `package` in `versions`. A plugin or theme
 * conflicts when
 *  - its composer.json `require[package]` admits only versions inside that
 *    range (see conflictsWith): `psr/log ^1.0` under a release that ships
 *    psr/log 3 (`versions: "<3"`) conflicts; `^1.0 || ^3.0` does not;
 *  - or it bundles the package at such a version (its
 *    `vendor/composer/installed.json`): the real Grav 1.8 break, email 4.2.0
 *    shipping psr/log 1.1.4 — unless its composer.json `replace`s the package
 *    (email 4.2.1's fix: it then uses the one the release ships).
 * An enabled plugin's conflict fails, a disabled one's warns. Requirements
 * that cannot be judged (a branch like `dev-master`, a malformed constraint or
 * version, an unreadable composer.json or installed.json) are a warning.
 */
const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;

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
  const plugins = await readPlugins(inst);
  const problems: PluginProblem[] = [];
  const unsure: string[] = [];
  const because = (rule: (typeof rules)[number]): string => `${release.version} conflicts with ${rule.package} ${rule.versions}${rule.message ? ` (${rule.message})` : ""}`;
  for (const p of plugins) {
    if (p.composer?.error) unsure.push(`${p.rel}: ${p.composer.error}`);
    if (p.bundled?.error) unsure.push(`${p.rel}: ${p.bundled.error}`);
    // Composer package names are case-insensitive.
    const lower = (m: Record<string, string>): Map<string, string> => new Map(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]));
    const require = lower(p.composer?.require ?? {});
    const replace = lower(p.composer?.replace ?? {});
    for (const rule of rules) {
      const wanted = require.get(rule.package);
      if (wanted !== undefined) {
        try {
          const req = parseConstraint(wanted);
          if (isBranchOnly(req)) unsure.push(`${p.rel} requires ${rule.package} "${wanted}", a branch that cannot be checked against ${rule.versions}`);
          else if (conflictsWith(req, rule.range)) problems.push({ plugin: p, text: `requires ${rule.package} "${wanted}", but ${because(rule)}` });
        } catch (err) {
          unsure.push(`${p.rel}: ${errorMessage(err)}`);
        }
      }
      const shipped = p.bundled?.packages[rule.package];
      if (shipped === undefined || replace.has(rule.package)) continue;
      try {
        if (satisfies(shipped, rule.range)) problems.push({ plugin: p, text: `bundles ${rule.package} ${shipped} (vendor/composer/installed.json), but ${because(rule)}` });
      } catch (err) {
        unsure.push(`${p.rel} bundles ${rule.package} "${shipped}": ${errorMessage(err)}`);
      }
    }
  }
  return pluginVerdict(PLUGIN_CONFLICTS, {
    problems,
    unsure,
    passMessage: `${count(plugins.filter((p) => p.composer).length, "plugin/theme composer.json file")} checked against ${count(rules.length, "conflict rule")}, and ${count(plugins.filter((p) => p.bundled).length, "vendor/composer/installed.json")}`,
    fix: "update or remove these plugins/themes before upgrading",
  });
}
