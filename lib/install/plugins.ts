/**
 * THE plugin reader: the plugins and themes installed under config
 * `pluginDirs` (Grav: `user/plugins`, `user/themes`), as the manifest records
 * them, the preflight checks them and the recovery page shows and switches
 * them. One definition of each fact:
 *
 *  - a plugin is a folder directly below a pluginDirs entry whose name is a
 *    valid plugin name (dot-folders and stray files are not plugins); a folder
 *    that is a symbolic link counts too (Grav loads linked plugins; gpm only
 *    reads through the link, it never writes there);
 *  - its settings file is `user/config/<kind>/<name>.yaml`, kind being the last
 *    segment of the pluginDirs entry (`plugins`, `themes`): where Grav reads it;
 *  - enabled: that file's top-level `enabled`, else the plugin's own
 *    `<name>.yaml` (its shipped defaults), else true (Grav's default);
 *  - version: `blueprints.yaml` `version`, else composer.json `version`, else null;
 *  - what it requires and replaces (composer.json, a UTF-8 BOM allowed), what it
 *    bundles (`vendor/composer/installed.json`, Composer 1's array or 2's
 *    `{"packages": [...]}`), and its blueprints `dependencies` and `compatibility`.
 *
 * YAML is parsed with the `yaml` package (lib/util/yaml-edit.ts). Reads only;
 * the switch (setPluginEnabledInConfig) writes the settings file alone.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "./installation.js";
import { errnoCode, errorMessage, fail } from "../util/errors.js";
import { resolveInside, writeFileDurable } from "../util/fsx.js";
import { readYaml, setTopLevelBool, topLevel, yamlBool } from "../util/yaml-edit.js";
import { mkdirp } from "../util/owner.js";

/** Plugin (folder) names: `[A-Za-z0-9._-]`, not `.`/`..`, no leading dot. */
const PLUGIN_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

export function isPluginName(name: string): boolean {
  return PLUGIN_NAME.test(name);
}

/** A blueprints.yaml dependency: `{name: grav, version: '>=1.7.41'}` or a bare name. */
export interface Dependency {
  name: string;
  /** A Grav/Composer constraint; null when none is given (any version). */
  version: string | null;
}

export interface Plugin {
  name: string;
  /** The pluginDirs entry it lives in, e.g. `user/plugins`. */
  dir: string;
  /** Its folder, relative to the root, `/`-separated. */
  rel: string;
  /** Its settings file, relative to the root. */
  configFile: string;
  version: string | null;
  enabled: boolean;
  /** composer.json: null when there is none. `error` set when it exists but cannot be read. */
  composer: { require: Record<string, string>; replace: Record<string, string>; error?: string } | null;
  /** vendor/composer/installed.json: package → version it bundles; null when there is none. */
  bundled: { packages: Record<string, string>; error?: string } | null;
  /** blueprints.yaml: null when there is none. */
  blueprint: { dependencies: Dependency[]; compatibility: Record<string, string[]> | null; error?: string } | null;
}

type Read = { text: string } | { missing: true } | { error: string };

async function readText(file: string): Promise<Read> {
  try {
    const text = await fsp.readFile(file, "utf8");
    return { text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") return { missing: true };
    return { error: `cannot read ${path.basename(file)}: ${code ?? errorMessage(err)}` };
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
}

async function readJson(file: string): Promise<{ data: unknown } | null | { error: string }> {
  const r = await readText(file);
  if ("missing" in r) return null;
  if ("error" in r) return r;
  try {
    return { data: JSON.parse(r.text) as unknown };
  } catch {
    return { error: `${path.basename(file)} is not valid JSON` };
  }
}

async function readComposer(full: string): Promise<{ plugin: Plugin["composer"]; version: string | null }> {
  const r = await readJson(path.join(full, "composer.json"));
  if (r === null) return { plugin: null, version: null };
  if ("error" in r) return { plugin: { require: {}, replace: {}, error: r.error }, version: null };
  if (!isObject(r.data)) return { plugin: { require: {}, replace: {}, error: "composer.json is not a JSON object" }, version: null };
  const v = r.data.version;
  return { plugin: { require: stringMap(r.data.require), replace: stringMap(r.data.replace) }, version: typeof v === "string" && v ? v : null };
}

async function readBundled(full: string): Promise<Plugin["bundled"]> {
  const r = await readJson(path.join(full, "vendor", "composer", "installed.json"));
  if (r === null) return null;
  if ("error" in r) return { packages: {}, error: r.error };
  // Composer 1 wrote an array of packages; Composer 2 writes {"packages": [...], "dev": …}.
  const list = Array.isArray(r.data) ? r.data : isObject(r.data) && Array.isArray(r.data.packages) ? r.data.packages : null;
  if (list === null) return { packages: {}, error: "installed.json is neither a package list nor {\"packages\": [...]}" };
  const packages: Record<string, string> = {};
  for (const p of list) if (isObject(p) && typeof p.name === "string" && typeof p.version === "string") packages[p.name.toLowerCase()] = p.version;
  return { packages };
}

function readDependencies(v: unknown): Dependency[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((d): Dependency[] => {
    if (typeof d === "string" && d.trim()) return [{ name: d.trim(), version: null }];
    if (isObject(d) && typeof d.name === "string" && d.name.trim()) {
      return [{ name: d.name.trim(), version: typeof d.version === "string" && d.version.trim() ? d.version.trim() : null }];
    }
    return [];
  });
}

/** Grav 1.8's `compatibility: {grav: ['1.7', '1.8']}`: key → the release series listed. */
function readCompatibility(v: unknown): Record<string, string[]> | null {
  if (!isObject(v)) return null;
  const out: Record<string, string[]> = {};
  for (const [k, x] of Object.entries(v)) {
    const list = Array.isArray(x) ? x : [x];
    out[k.toLowerCase()] = list.filter((s) => typeof s === "string" || typeof s === "number").map(String);
  }
  return out;
}

async function readYamlFile(file: string): Promise<{ value: unknown } | null | { error: string }> {
  const r = await readText(file);
  if ("missing" in r) return null;
  if ("error" in r) return r;
  const y = readYaml(r.text);
  return y.ok ? { value: y.value } : { error: `${path.basename(file)} is ${y.error}` };
}

async function enabledIn(file: string): Promise<boolean | null> {
  const y = await readYamlFile(file);
  return y && "value" in y ? yamlBool(topLevel(y.value, "enabled")) : null;
}

/** The settings file of a plugin in `pluginDir`: `user/config/<kind>/<name>.yaml`, absolute. */
function configFileFor(inst: Installation, pluginDir: string, name: string): string {
  const kind = pluginDir.split(/[\\/]/).filter(Boolean).at(-1)!;
  return path.join(inst.paths.user, "config", kind, `${name}.yaml`);
}

async function readPlugin(inst: Installation, dir: string, base: string, name: string): Promise<Plugin> {
  const full = path.join(base, name);
  const configFile = configFileFor(inst, dir, name);
  const [composer, bundled, bp, siteEnabled, ownEnabled] = await Promise.all([
    readComposer(full),
    readBundled(full),
    readYamlFile(path.join(full, "blueprints.yaml")),
    enabledIn(configFile),
    enabledIn(path.join(full, `${name}.yaml`)),
  ]);
  let blueprint: Plugin["blueprint"] = null;
  let version: string | null = null;
  if (bp && "error" in bp) blueprint = { dependencies: [], compatibility: null, error: bp.error };
  else if (bp) {
    const v = topLevel(bp.value, "version");
    version = typeof v === "string" && v.trim() ? v.trim() : typeof v === "number" ? String(v) : null;
    blueprint = { dependencies: readDependencies(topLevel(bp.value, "dependencies")), compatibility: readCompatibility(topLevel(bp.value, "compatibility")) };
  }
  return {
    name,
    dir,
    rel: path.relative(inst.root, full).split(path.sep).join("/"),
    configFile: path.relative(inst.root, configFile),
    version: version ?? composer.version,
    enabled: siteEnabled ?? ownEnabled ?? true,
    composer: composer.plugin,
    bundled,
    blueprint,
  };
}

/** Every plugin and theme, sorted by pluginDirs entry, then name. */
export async function readPlugins(inst: Installation): Promise<Plugin[]> {
  const out: Plugin[] = [];
  for (const dir of inst.config.pluginDirs) {
    const base = resolveInside(inst.root, dir, "pluginDirs");
    let names: string[];
    try {
      names = (await fsp.readdir(base)).sort();
    } catch (err) {
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") continue;
      throw err;
    }
    for (const name of names) {
      if (!isPluginName(name)) continue;
      // stat, not lstat: a linked plugin folder is a plugin.
      const st = await fsp.stat(path.join(base, name)).catch(() => null);
      if (st?.isDirectory()) out.push(await readPlugin(inst, dir, base, name));
    }
  }
  return out;
}

/**
 * Write `enabled: <bool>` into the plugin's settings file (created if absent),
 * keeping every comment and other setting, durably. A settings file that is
 * not a YAML mapping is refused (exit 1), never rewritten.
 */
export async function setPluginEnabledInConfig(inst: Installation, plugin: Plugin, enabled: boolean): Promise<void> {
  const file = path.join(inst.root, plugin.configFile);
  const before = await readText(file);
  if ("error" in before) throw fail(`${plugin.configFile}: ${before.error}`, "check the file's permissions");
  const raw = "text" in before ? await fsp.readFile(file, "utf8") : "";
  let after: string;
  try {
    after = setTopLevelBool(raw, "enabled", enabled);
  } catch (err) {
    throw fail(`cannot switch ${plugin.name}: ${plugin.configFile}: ${errorMessage(err)}`, `set "enabled: ${enabled}" in ${plugin.configFile} by hand`);
  }
  if (after === raw && "text" in before) return;
  await mkdirp(path.dirname(file));
  await writeFileDurable(file, after);
}
