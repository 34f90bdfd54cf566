/**
 * The plugins and themes as the manifest records them (`packages`) and as the
 * preflight's conflict check reads their composer.json `require`. A thin view
 * of the one plugin reader, lib/install/plugins.ts. Reads only.
 */
import type { Installation } from "../install/installation.js";
import { readPlugins } from "../install/plugins.js";

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

/** name = folder name, version and enabled as lib/install/plugins.ts defines them. */
export async function listPackages(inst: Installation): Promise<PackageInfo[]> {
  return (await readPlugins(inst)).map((p) => ({ name: p.name, version: p.version, enabled: p.enabled }));
}

/** Each plugin's/theme's composer.json `require` map (packages without composer.json are left out). */
export async function readComposerRequires(inst: Installation): Promise<ComposerRequires[]> {
  return (await readPlugins(inst)).flatMap((p) =>
    p.composer ? [{ package: p.name, path: `${p.rel}/composer.json`, require: p.composer.require, ...(p.composer.error ? { error: p.composer.error } : {}) }] : [],
  );
}
