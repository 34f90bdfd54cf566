import path from "node:path";
import fsp from "node:fs/promises";
import { errnoCode, fail } from "../util/errors.js";
import { resolveInside, writeFileDurable } from "../util/fsx.js";
import type { Installation } from "../install/installation.js";
import { isValidPluginName, readRecoveryFlag, updateQuarantine } from "./flag.js";
import { mkdirp } from "../util/owner.js";

/**
 * Plugins and themes as the recovery page shows and switches them. A plugin is
 * a folder directly below one of config `pluginDirs`; its switch is the
 * top-level `enabled:` line of `user/config/<kind>/<name>.yaml`, where kind is
 * the last segment of that dir (Grav: `user/plugins` -> `user/config/plugins`,
 * `user/themes` -> `user/config/themes`). A name from a request is only ever
 * matched against the folders that exist; it never becomes a path before that.
 */
export interface PluginInfo {
  name: string;
  /** The pluginDirs entry it lives in, e.g. `user/plugins`. */
  dir: string;
  /** From its config file; a plugin without an `enabled:` line is enabled (Grav's default). */
  enabled: boolean;
  quarantined: boolean;
  /** Its config file, relative to the root. */
  configFile: string;
}

const ENABLED_LINE = /^enabled[ \t]*:[ \t]*(.*?)[ \t]*(#.*)?$/;

function parseEnabled(text: string | null): boolean {
  if (text === null) return true;
  for (const line of text.split(/\r?\n/)) {
    const m = ENABLED_LINE.exec(line);
    if (m) return !/^(false|no|off|0|'false'|"false")$/i.test(m[1] ?? "");
  }
  return true;
}

async function readTextOrNull(file: string): Promise<string | null> {
  try {
    return await fsp.readFile(file, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return null;
    throw err;
  }
}

function configFileFor(inst: Installation, pluginDir: string, name: string): string {
  const kind = pluginDir.split(/[\\/]/).filter(Boolean).at(-1)!;
  return path.join(inst.paths.user, "config", kind, `${name}.yaml`);
}

/** Every plugin/theme folder under config `pluginDirs`, sorted by dir then name. */
export async function listPlugins(inst: Installation): Promise<PluginInfo[]> {
  const quarantined = new Set((await readRecoveryFlag(inst))?.quarantined ?? []);
  const out: PluginInfo[] = [];
  for (const rel of inst.config.pluginDirs) {
    const dir = resolveInside(inst.root, rel, "pluginDirs");
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") continue;
      throw err;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!e.isDirectory() || !isValidPluginName(e.name)) continue;
      const configFile = configFileFor(inst, rel, e.name);
      out.push({
        name: e.name,
        dir: rel,
        enabled: parseEnabled(await readTextOrNull(configFile)),
        quarantined: quarantined.has(e.name),
        configFile: path.relative(inst.root, configFile),
      });
    }
  }
  return out;
}

/** The plugin called `name`, or exit 1 when the name is malformed or no such folder exists. */
export async function findPlugin(inst: Installation, name: string): Promise<PluginInfo> {
  if (!isValidPluginName(name)) throw fail(`"${name.slice(0, 100)}" is not a plugin name`, "plugin names are letters, digits, '.', '_' and '-'");
  const found = (await listPlugins(inst)).find((p) => p.name === name);
  if (!found) throw fail(`no plugin or theme "${name}" under ${inst.config.pluginDirs.join(", ")}`, "check the name on the recovery page");
  return found;
}

/**
 * Set the top-level `enabled:` line of a YAML document, keeping every other
 * line (comments, order, line endings) as it was. Without such a line one is
 * added at the top (after a leading `---`).
 */
export function setEnabledLine(text: string, enabled: boolean): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const lines = text.length ? text.split(/\r?\n/) : [];
  const value = `enabled: ${enabled}`;
  const i = lines.findIndex((l) => ENABLED_LINE.test(l));
  if (i >= 0) {
    const comment = ENABLED_LINE.exec(lines[i]!)?.[2];
    lines[i] = comment ? `${value} ${comment}` : value;
  } else {
    lines.splice(lines[0]?.trim() === "---" ? 1 : 0, 0, value);
  }
  let out = lines.join(eol);
  if (!out.endsWith(eol)) out += eol;
  return out;
}

/**
 * Disable or enable a plugin (the recovery page's switch): rewrite its config
 * file durably and, when recovery mode is on, add it to (disable) or remove it
 * from (enable) the flag's quarantine list.
 */
export async function setPluginEnabled(inst: Installation, name: string, enabled: boolean): Promise<{ plugin: PluginInfo; quarantined: string[] | null }> {
  const plugin = await findPlugin(inst, name);
  const file = path.join(inst.root, plugin.configFile);
  const before = await readTextOrNull(file);
  const after = setEnabledLine(before ?? "", enabled);
  if (after !== before) {
    await mkdirp(path.dirname(file));
    await writeFileDurable(file, after);
  }
  const quarantined = await updateQuarantine(inst, (names) => (enabled ? names.filter((n) => n !== name) : [...names, name]));
  return { plugin: { ...plugin, enabled, quarantined: !enabled && quarantined !== null }, quarantined };
}
