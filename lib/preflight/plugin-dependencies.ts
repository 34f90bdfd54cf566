import { intersects, parseConstraint, satisfies } from "./composer-constraint.js";
import { readPlugins, type Plugin } from "../install/plugins.js";
import type { CheckResult, PreflightInput } from "./types.js";
import { pluginVerdict, type PluginProblem } from "./plugin-verdict.js";
import { errorMessage } from "../util/errors.js";

export const PLUGIN_DEPENDENCIES = "plugin-dependencies";

/** `1.8.0-beta.29` → `1.8`: the series Grav 1.8's `compatibility` lists. */
function series(version: string): string {
  return version.split(/[^0-9]/).slice(0, 2).join(".");
}

/**
 * What each plugin/theme says it needs, against the release to install:
 *  - composer.json `require.php` must leave a PHP version the release also
 *    accepts (`requires.php`): `<8.0` under a release that wants `>=8.3` cannot work;
 *  - blueprints.yaml `dependencies`: `{name: grav, version: '>=2.0.0'}` against
 *    the target version, any other name against that plugin's installed version
 *    (a missing plugin is a problem too);
 *  - Grav 1.8's `compatibility: {grav: ['1.7', '1.8']}`: the target's series must
 *    be listed.
 * An enabled plugin's problem fails, a disabled one's warns (see pluginVerdict).
 */
export async function checkPluginDependencies({ inst, release }: PreflightInput): Promise<CheckResult> {
  const plugins = await readPlugins(inst);
  const byName = new Map(plugins.map((p) => [p.name.toLowerCase(), p]));
  const problems: PluginProblem[] = [];
  const unsure: string[] = [];
  const target = release.version;
  const judge = (p: Plugin, what: string, constraint: string, version: string, problem: string): void => {
    try {
      if (!satisfies(version, parseConstraint(constraint))) problems.push({ plugin: p, text: problem });
    } catch (err) {
      unsure.push(`${p.rel}: ${what} "${constraint}": ${errorMessage(err)}`);
    }
  };
  for (const p of plugins) {
    const php = p.composer?.require.php;
    if (php && release.requires.php) {
      try {
        if (!intersects(parseConstraint(php), parseConstraint(release.requires.php))) {
          problems.push({ plugin: p, text: `requires PHP "${php}", but ${target} requires PHP "${release.requires.php}"` });
        }
      } catch (err) {
        unsure.push(`${p.rel}: PHP requirement "${php}": ${errorMessage(err)}`);
      }
    }
    if (!p.blueprint) continue;
    if (p.blueprint.error) unsure.push(`${p.rel}: ${p.blueprint.error}`);
    for (const d of p.blueprint.dependencies) {
      const name = d.name.toLowerCase();
      if (name === "grav") {
        if (d.version) judge(p, "dependency grav", d.version, target, `needs grav ${d.version}, but the target is ${target}`);
        continue;
      }
      const other = byName.get(name);
      if (!other) problems.push({ plugin: p, text: `needs the plugin ${d.name}${d.version ? ` ${d.version}` : ""}, which is not installed` });
      else if (d.version && other.version) judge(p, `dependency ${d.name}`, d.version, other.version, `needs ${d.name} ${d.version}, but ${other.version} is installed`);
      else if (d.version) unsure.push(`${p.rel} needs ${d.name} ${d.version}; the installed ${d.name} has no version`);
    }
    const grav = p.blueprint.compatibility?.grav;
    if (grav && grav.length > 0 && !grav.some((s) => series(s) === series(target))) {
      problems.push({ plugin: p, text: `declares compatibility with grav ${grav.join(", ")}, not ${series(target)} (the target is ${target})` });
    }
  }
  return pluginVerdict(PLUGIN_DEPENDENCIES, {
    problems,
    unsure,
    passMessage: `${plugins.length} plugin${plugins.length === 1 ? "" : "s"}/themes: PHP requirement, blueprints dependencies and compatibility fit ${target}`,
    fix: "update these plugins/themes (or install what they need) before upgrading",
  });
}
