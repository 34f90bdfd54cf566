import path from "node:path";
import fsp from "node:fs/promises";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { GpmError, Exit, fail, errnoCode } from "../util/errors.js";
import { readJsonIfExists, writeJsonDurable, resolveInside, readRegularFile, exists } from "../util/fsx.js";
import { registerTreeOwner } from "../util/owner.js";
import { loadConfig, type Config } from "./config.js";
import { checkStateEntries } from "./state-entries.js";
import { protectStateDir } from "../web/state-dirs.js";

/** gpm's own on-disk layout version (SPEC section 7). Raised by every migration. */
export const STRUCTURE_VERSION = 3;
/**
 * gpm's own version: package.json's (three levels up from dist/lib/install/),
 * so a packed release reports the version it was packed as — install.sh
 * compares releases by running `gpm version`.
 */
export const GPM_VERSION: string = (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version;

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
  /** `.gpm/feed-state.json`: the highest feed version seen, per feedKey (lib/stage/feed-trust.ts). */
  feedState: string;
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
  // An empty --root or GPM_ROOT='' is a mistake (an unset variable in a script), never "here".
  if (opts.root.trim() === "") {
    throw new GpmError(Exit.USAGE, "the root is empty (--root '' or GPM_ROOT='')", "pass --root DIR (or set GPM_ROOT) to the application's folder; leave both unset to use the current directory");
  }
  const root = path.resolve(opts.root);
  let st;
  try {
    st = await fsp.stat(root);
  } catch (err) {
    throw fail(`root ${root} does not exist (${errnoCode(err) ?? "error"})`, "pass --root DIR or set GPM_ROOT to the application's folder");
  }
  if (!st.isDirectory()) throw fail(`root ${root} is not a directory`, "pass --root DIR pointing at the application's folder");
  registerTreeOwner(root, st);
  const config = await loadConfig(root, opts.configPath);
  // --feed is typed relative to where the operator stands; `feed` in gpm.json is relative to the root.
  if (opts.feed) config.feed = /^[a-z][a-z0-9+.-]*:\/\//i.test(opts.feed) ? opts.feed : path.resolve(opts.feed);
  else if (config.feed && !/^[a-z][a-z0-9+.-]*:\/\//i.test(config.feed)) config.feed = path.resolve(root, config.feed);
  const gpmDir = path.join(root, ".gpm");
  const inst: Installation = {
    root,
    config,
    paths: {
      gpmDir,
      metadata: path.join(gpmDir, "metadata.json"),
      journal: path.join(gpmDir, "journal.json"),
      lock: path.join(gpmDir, "lock"),
      recoveryKey: path.join(gpmDir, "recovery.key"),
      feedState: path.join(gpmDir, "feed-state.json"),
      snapshots: resolveInside(root, config.snapshotDir, "snapshotDir"),
      maintenanceFlag: resolveInside(root, config.maintenanceFlag, "maintenanceFlag"),
      recoveryFlag: resolveInside(root, config.recoveryFlag, "recoveryFlag"),
      upgradeRecords: path.join(root, "user", "data", "upgrades"),
      user: path.join(root, "user"),
    },
  };
  await checkStateEntries(inst);
  return inst;
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

/**
 * metadata.json as written by gpm. Extra keys are kept out of the way, not refused
 * (a newer gpm may add some); a wrong type is one error naming the file and key.
 */
const metadataSchema = z.object({
  structure_version: z.number().int().min(0),
  installation_version: z.string().nullable().optional(),
  created_by: z.string().optional(),
  last_upgraded: z.string().nullable().optional(),
});

export async function readMetadata(inst: Installation): Promise<Metadata | undefined> {
  const raw = await readJsonIfExists<unknown>(inst.paths.metadata);
  if (raw === undefined) return undefined;
  const r = metadataSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const key = issue.path.map(String).join(".") || "(top level)";
    throw fail(
      `${inst.paths.metadata} is damaged: ${key}: ${issue.message}`,
      key === "installation_version"
        ? 'set "installation_version" to the installed version as a string (e.g. "1.7.48"), or to null, or put back the file from a backup'
        : "put back the file from a backup, or fix that key (see docs/RECOVERY.md, damaged state files)",
    );
  }
  const m = r.data;
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

/**
 * The version the application itself declares (config versionFile/versionPattern),
 * or null when the file is missing or holds no version. A FIFO or folder in its
 * place is an error naming it, never a read that blocks (invariant 9).
 */
export async function readAppVersion(inst: Installation, treeRoot = inst.root): Promise<string | null> {
  const file = resolveInside(treeRoot, inst.config.versionFile, "versionFile");
  let text: string;
  try {
    text = await readRegularFile(file);
  } catch (err) {
    if (err instanceof GpmError) throw err; // not a regular file: named by readRegularFile
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

const notAnInstallation = (inst: Installation) =>
  fail(
    `${inst.root} is not an installation: no .gpm/metadata.json and no version in ${inst.config.versionFile}`,
    "pass --root pointing at the application's folder, or set versionFile/versionPattern in gpm.json",
  );

/** The installed version, or exit 1 when the root does not look like an installation. */
export async function requireInstalledVersion(inst: Installation): Promise<string> {
  const v = await installedVersion(inst);
  if (!v) throw notAnInstallation(inst);
  return v;
}

/**
 * Every command that writes refuses a root that is not an installation (SPEC
 * section 1), before it writes anything (not even the lock). A root with an
 * interrupted run's journal is one gpm already changed: its core may be half
 * swapped (system/ moved away), and the repair must be able to run.
 */
export async function requireInstallation(inst: Installation): Promise<void> {
  if (await exists(inst.paths.journal)) return;
  if (!(await installedVersion(inst))) throw notAnInstallation(inst);
}
