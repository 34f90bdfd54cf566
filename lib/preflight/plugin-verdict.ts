import { pass, warn, failed, type CheckResult } from "./types.js";
import type { Plugin } from "../install/plugins.js";

/**
 * One plugin/theme problem. Grav loads only enabled plugins, so a problem of
 * an enabled one breaks the site (fail), a disabled one's only breaks it the
 * day someone enables it (warn).
 */
export interface PluginProblem {
  plugin: Plugin;
  text: string;
}

/** The verdict of a plugin check: fail on an enabled plugin's problem, warn on a disabled one's or on what cannot be judged. */
export function pluginVerdict(
  id: string,
  o: { problems: PluginProblem[]; unsure: string[]; passMessage: string; fix: string },
): CheckResult {
  const label = (p: PluginProblem): string => `${p.plugin.rel}${p.plugin.enabled ? "" : " (disabled)"} ${p.text}`;
  const enabled = o.problems.filter((p) => p.plugin.enabled);
  const disabled = o.problems.filter((p) => !p.plugin.enabled);
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;
  if (enabled.length > 0) {
    const all = [...enabled, ...disabled].map(label);
    return failed(id, `${plural(enabled.length, "enabled plugin/theme problem")}${disabled.length ? ` (and ${disabled.length} of disabled ones)` : ""}: ${all.join("; ")}`, `${o.fix} (or --ignore-check ${id} at your own risk)`);
  }
  if (disabled.length > 0 || o.unsure.length > 0) {
    const parts = [...disabled.map(label), ...o.unsure];
    const what = disabled.length > 0 ? `${plural(disabled.length, "problem")} of disabled plugins/themes` : `cannot check ${plural(o.unsure.length, "plugin/theme requirement")}`;
    return warn(id, `${what}: ${parts.join("; ")}`, disabled.length > 0 ? `${o.fix} before enabling them` : "check them by hand against the release notes");
  }
  return pass(id, o.passMessage);
}
