/**
 * The plugins and themes installed under config `pluginDirs` (Grav:
 * `user/plugins`, `user/themes`): recorded in the manifest, and their
 * composer.json `require` maps are what the preflight checks against a
 * release's `conflicts`. Reads only.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import { errnoCode, errorMessage } from "../util/errors.js";
import { resolveInside } from "../util/fsx.js";

export interface PackageInfo {
  name: string;
  version: string | null;
  enabled: boolean;
}

export interface ComposerRequires {
  /** The plugin's or theme's folder name. */
  package: string;
  /** Its composer.json, relative to the root (`user/plugins/foo/composer.json`). */
  path: string;
  /** `require` as written: package → constraint (non-string values dropped). */
  require: Record<string, string>;
  /** Set when composer.json exists but cannot be read or parsed; `require` is then empty. */
  error?: string;
}

interface PackageDir {
  name: string;
  /** Relative to the root, `/`-separated. */
  rel: string;
  full: string;
  /** Where Grav keeps the site's settings for it: `<parent>/config/<kind>/<name>.yaml`. */
  configFile: string;
}

async function readTextOrNull(file: string): Promise<string | null> {
  try {
    return await fsp.readFile(file, "utf8");
  } catch {
    return null;
  }
}

/** Every package folder (symlinked ones included; dot-folders skipped), sorted by folder, then name. */
async function packageDirs(inst: Installation): Promise<PackageDir[]> {
  const out: PackageDir[] = [];
  for (const dir of inst.config.pluginDirs) {
    const base = resolveInside(inst.root, dir, "pluginDirs");
    let names: string[];
    try {
      names = (await fsp.readdir(base)).sort();
    } catch (err) {
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") continue;
      throw err;
    }
    const rel = path.relative(inst.root, base).split(path.sep).join("/");
    for (const name of names) {
      if (name.startsWith(".")) continue;
      const full = path.join(base, name);
      const st = await fsp.stat(full).catch(() => null);
      if (!st?.isDirectory()) continue;
      out.push({ name, rel: `${rel}/${name}`, full, configFile: path.join(path.dirname(base), "config", path.basename(base), `${name}.yaml`) });
    }
  }
  return out;
}

/** A top-level `key: value` of a YAML file, without quotes or comment. */
function yamlScalar(text: string | null, key: string): string | null {
  if (text === null) return null;
  const m = new RegExp(`^${key}:[ \\t]*["']?([^"'#\\r\\n]*?)["']?[ \\t]*(?:#.*)?$`, "m").exec(text);
  return m?.[1] ? m[1] : null;
}

function yamlBool(text: string | null, key: string): boolean | null {
  const v = yamlScalar(text, key)?.toLowerCase();
  if (v === undefined || v === null) return null;
  if (["false", "off", "no", "0"].includes(v)) return false;
  if (["true", "on", "yes", "1"].includes(v)) return true;
  return null;
}

async function composerJson(full: string): Promise<{ data: Record<string, unknown> | null; error?: string; exists: boolean }> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(full, "composer.json"), "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return { data: null, exists: false };
    return { data: null, exists: true, error: `cannot read composer.json: ${errnoCode(err) ?? errorMessage(err)}` };
  }
  try {
    const data = JSON.parse(text) as unknown;
    if (typeof data !== "object" || data === null || Array.isArray(data)) return { data: null, exists: true, error: "composer.json is not a JSON object" };
    return { data: data as Record<string, unknown>, exists: true };
  } catch {
    return { data: null, exists: true, error: "composer.json is not valid JSON" };
  }
}

/**
 * name = folder name; version from `blueprints.yaml` (`version:`), else
 * composer.json `version`, else null; enabled unless the site's
 * `user/config/<plugins|themes>/<name>.yaml` says `enabled: false` (or, with
 * no site setting, the package's own `<name>.yaml` does).
 */
export async function listPackages(inst: Installation): Promise<PackageInfo[]> {
  const out: PackageInfo[] = [];
  for (const d of await packageDirs(inst)) {
    let version = yamlScalar(await readTextOrNull(path.join(d.full, "blueprints.yaml")), "version");
    if (version === null) {
      const v = (await composerJson(d.full)).data?.version;
      version = typeof v === "string" && v ? v : null;
    }
    const enabled =
      yamlBool(await readTextOrNull(d.configFile), "enabled") ?? yamlBool(await readTextOrNull(path.join(d.full, `${d.name}.yaml`)), "enabled") ?? true;
    out.push({ name: d.name, version, enabled });
  }
  return out;
}

/** Each plugin's/theme's composer.json `require` map (packages without composer.json are left out). */
export async function readComposerRequires(inst: Installation): Promise<ComposerRequires[]> {
  const out: ComposerRequires[] = [];
  for (const d of await packageDirs(inst)) {
    const c = await composerJson(d.full);
    if (!c.exists) continue;
    const require: Record<string, string> = {};
    const raw = c.data?.require;
    if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
      for (const [k, v] of Object.entries(raw)) if (typeof v === "string") require[k] = v;
    }
    out.push({ package: d.name, path: `${d.rel}/composer.json`, require, ...(c.error ? { error: c.error } : {}) });
  }
  return out;
}
