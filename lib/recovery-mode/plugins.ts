import { fail } from "../util/errors.js";
import type { Installation } from "../install/installation.js";
import { readPlugins, setPluginEnabledInConfig } from "../install/plugins.js";
import { setTopLevelBool } from "../util/yaml-edit.js";
import { isValidPluginName, readRecoveryFlag, updateQuarantine } from "./flag.js";

/**
 * Plugins and themes as the recovery page shows and switches them: a view of
 * the one plugin reader (lib/install/plugins.ts says what a plugin is, where
 * its settings file lives and how `enabled` is read). A name from a request
 * is only ever matched against the folders that exist; it never becomes a
 * path before that.
 */
export interface PluginInfo {
  name: string;
  /** The pluginDirs entry it lives in, e.g. `user/plugins`. */
  dir: string;
  /** From its settings file (else its own defaults); enabled when neither says (Grav's default). */
  enabled: boolean;
  quarantined: boolean;
  /** Its settings file, relative to the root. */
  configFile: string;
}

/** Every plugin/theme folder under config `pluginDirs`, sorted by dir then name. */
export async function listPlugins(inst: Installation): Promise<PluginInfo[]> {
  const quarantined = new Set((await readRecoveryFlag(inst))?.quarantined ?? []);
  return (await readPlugins(inst)).map((p) => ({ name: p.name, dir: p.dir, enabled: p.enabled, quarantined: quarantined.has(p.name), configFile: p.configFile }));
}

/** The plugin called `name`, or exit 1 when the name is malformed or no such folder exists. */
export async function findPlugin(inst: Installation, name: string): Promise<PluginInfo> {
  if (!isValidPluginName(name)) throw fail(`"${name.slice(0, 100)}" is not a plugin name`, "plugin names are letters, digits, '.', '_' and '-'");
  const found = (await listPlugins(inst)).find((p) => p.name === name);
  if (!found) throw fail(`no plugin or theme "${name}" under ${inst.config.pluginDirs.join(", ")}`, "check the name on the recovery page");
  return found;
}

/**
 * Set the top-level `enabled:` of a YAML document, keeping every other line
 * (comments, order, line endings) as it was. Without such a key a line is
 * added at the top (after a leading `---`).
 */
export function setEnabledLine(text: string, enabled: boolean): string {
  return setTopLevelBool(text, "enabled", enabled);
}

/**
 * Disable or enable a plugin (the recovery page's switch): rewrite its config
 * file durably and, when recovery mode is on, add it to (disable) or remove it
 * from (enable) the flag's quarantine list.
 */
export async function setPluginEnabled(inst: Installation, name: string, enabled: boolean): Promise<{ plugin: PluginInfo; quarantined: string[] | null }> {
  const plugin = await findPlugin(inst, name);
  const full = (await readPlugins(inst)).find((p) => p.name === name && p.dir === plugin.dir)!;
  await setPluginEnabledInConfig(inst, full, enabled);
  const quarantined = await updateQuarantine(inst, (names) => (enabled ? names.filter((n) => n !== name) : [...names, name]));
  return { plugin: { ...plugin, enabled, quarantined: !enabled && quarantined !== null }, quarantined };
}
