import path from "node:path";
import fsp from "node:fs/promises";
import { fail, errnoCode } from "../util/errors.js";
import { readJsonIfExists, writeJsonDurable, resolveInside } from "../util/fsx.js";
import { loadConfig, type Config } from "./config.js";
import { protectStateDir } from "../web/state-dirs.js";

/** gpm's own on-disk layout version (SPEC section 7). Raised by every migration. */
export const STRUCTURE_VERSION = 3;
export const GPM_VERSION = "0.1.0";

export interface Metadata {
  structure_version: number;
  installation_version: string | null;
  created_by: string;
  last_upgraded: string | null;
}

export interface InstallPaths {
  /** `.gpm/`: metadata, journal, lock, recovery key. */
  gpmDir: string;
  metadata: string;
  journal: string;
  lock: string;
  recoveryKey: string;
  /** The snapshot store (config `snapshotDir`). */
  snapshots: string;
  maintenanceFlag: string;
  recoveryFlag: string;
  /** `user/data/upgrades/`: copies of the manifests (gpm's records, mirrored after every swap). */
  upgradeRecords: string;
  user: string;
}

export interface Installation {
  root: string;
  config: Config;
  paths: InstallPaths;
}

export interface OpenOptions {
  root: string;
  configPath?: string | undefined;
  /** Overrides config `feed` (the --feed flag). */
  feed?: string | undefined;
}

export async function openInstallation(opts: OpenOptions): Promise<Installation> {
  const root = path.resolve(opts.root);
  let st;
  try {
    st = await fsp.stat(root);
  } catch (err) {
    throw fail(`root ${root} does not exist (${errnoCode(err) ?? "error"})`, "pass --root DIR or set GPM_ROOT to the application's folder");
  }
  if (!st.isDirectory()) throw fail(`root ${root} is not a directory`, "pass --root DIR pointing at the application's folder");
  const config = await loadConfig(root, opts.configPath);
  // --feed is typed relative to where the operator stands; `feed` in gpm.json is relative to the root.
  if (opts.feed) config.feed = /^[a-z][a-z0-9+.-]*:\/\//i.test(opts.feed) ? opts.feed : path.resolve(opts.feed);
  else if (config.feed && !/^[a-z][a-z0-9+.-]*:\/\//i.test(config.feed)) config.feed = path.resolve(root, config.feed);
  const gpmDir = path.join(root, ".gpm");
  return {
    root,
    config,
    paths: {
      gpmDir,
      metadata: path.join(gpmDir, "metadata.json"),
      journal: path.join(gpmDir, "journal.json"),
      lock: path.join(gpmDir, "lock"),
      recoveryKey: path.join(gpmDir, "recovery.key"),
      snapshots: resolveInside(root, config.snapshotDir, "snapshotDir"),
      maintenanceFlag: resolveInside(root, config.maintenanceFlag, "maintenanceFlag"),
      recoveryFlag: resolveInside(root, config.recoveryFlag, "recoveryFlag"),
      upgradeRecords: path.join(root, "user", "data", "upgrades"),
      user: path.join(root, "user"),
    },
  };
}

/**
 * Top-level names that an upgrade never replaces or deletes: config `preserve`
 * plus the ones SPEC section 2 always preserves (the snapshot store, `.gpm/`,
 * `gpm.json`, the maintenance flag), whatever the config says.
 */
export function preservedNames(inst: Installation): Set<string> {
  const top = (p: string): string => p.split(/[\\/]/).filter(Boolean)[0] ?? p;
  const names = new Set(inst.config.preserve.map(top));
  for (const p of [inst.config.snapshotDir, ".gpm", "gpm.json", inst.config.maintenanceFlag]) names.add(top(p));
  return names;
}

export async function readMetadata(inst: Installation): Promise<Metadata | undefined> {
  const m = await readJsonIfExists<Partial<Metadata>>(inst.paths.metadata);
  if (m === undefined) return undefined;
  if (typeof m !== "object" || m === null || typeof m.structure_version !== "number") {
    throw fail(`${inst.paths.metadata} is malformed (no structure_version)`, "run `gpm migrate-installation` or restore the file");
  }
  return {
    structure_version: m.structure_version,
    installation_version: m.installation_version ?? null,
    created_by: m.created_by ?? GPM_VERSION,
    last_upgraded: m.last_upgraded ?? null,
  };
}

export async function writeMetadata(inst: Installation, m: Metadata): Promise<void> {
  await protectStateDir(inst.paths.gpmDir);
  await writeJsonDurable(inst.paths.metadata, m);
}

/** Update fields of metadata.json, creating it (at the current structure version) if absent. */
export async function updateMetadata(inst: Installation, patch: Partial<Metadata>): Promise<Metadata> {
  const cur = (await readMetadata(inst)) ?? {
    structure_version: STRUCTURE_VERSION,
    installation_version: null,
    created_by: GPM_VERSION,
    last_upgraded: null,
  };
  const next = { ...cur, ...patch };
  await writeMetadata(inst, next);
  return next;
}

/** The version the application itself declares (config versionFile/versionPattern), or null. */
export async function readAppVersion(inst: Installation, treeRoot = inst.root): Promise<string | null> {
  const file = resolveInside(treeRoot, inst.config.versionFile, "versionFile");
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch {
    return null;
  }
  const m = new RegExp(inst.config.versionPattern).exec(text);
  return m?.[1] ?? null;
}

/** Installed version: metadata.json `installation_version`, else read from the app. */
export async function installedVersion(inst: Installation): Promise<string | null> {
  const meta = await readMetadata(inst);
  return meta?.installation_version ?? (await readAppVersion(inst));
}

/** The installed version, or exit 1 when the root does not look like an installation. */
export async function requireInstalledVersion(inst: Installation): Promise<string> {
  const v = await installedVersion(inst);
  if (!v) {
    throw fail(
      `${inst.root} is not an installation: no .gpm/metadata.json and no version in ${inst.config.versionFile}`,
      "pass --root pointing at the application, or set versionFile/versionPattern in gpm.json",
    );
  }
  return v;
}
