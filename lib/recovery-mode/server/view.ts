/**
 * What the recovery page shows, worked out before any HTML: the live
 * version and the snapshot the live tree came from, which rollbacks can work
 * now (and which cannot, with why), the plugins with versions and state
 * (quarantined first), and whether recovery mode may be cleared.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { installedVersion, type Installation } from "../../install/installation.js";
import { listManifests, snapshotDir, type Manifest } from "../../store/manifest.js";
import { liveSource } from "../../store/way-back.js";
import { listPackages } from "../../stage/packages.js";
import { readRecoveryFlag, rollbackSince, type FlagState } from "../flag.js";
import { listPlugins, type PluginInfo } from "../plugins.js";

const MAX_MANIFESTS_SHOWN = 20;

/** A rollback (the snapshot's older tree goes live) or a redo (its newer one does) that can work now. */
export interface Swap {
  direction: "rollback" | "redo";
  /** The version that goes live. */
  goesLive: string | null;
  /** The snapshot holds a copy of user/ to swap too. */
  userCopy: boolean;
}

export interface SnapshotRow {
  m: Manifest;
  /** The live tree came from this snapshot (the upgrade that installed it, or the rollback that put it back). */
  liveSource: boolean;
  swap: Swap | null;
  /** Why no swap is offered. */
  why: string | null;
}

export interface PluginRow extends PluginInfo {
  version: string | null;
}

export type ClearState = { can: "yes"; because: string } | { can: "on-health"; url: string } | { can: "no"; why: string };

export interface Overview {
  root: string;
  live: string | null;
  flag: FlagState | null;
  snapshots: SnapshotRow[];
  plugins: PluginRow[];
  /** Quarantined names with no plugin folder. */
  missingQuarantined: string[];
  clear: ClearState | null;
}

/** What swapping with `m` would do now, or why it cannot. */
export async function swapFor(inst: Installation, m: Manifest, live: string | null): Promise<{ swap: Swap | null; why: string | null }> {
  const dir = snapshotDir(inst, m.id);
  const has = async (name: string): Promise<boolean> => (await fsp.stat(path.join(dir, name)).catch(() => null))?.isDirectory() ?? false;
  if (m.status !== "finalized" && m.status !== "swapped") return { swap: null, why: `${m.status}: it holds no whole tree to swap with` };
  const direction = m.status === "finalized" ? "rollback" : "redo";
  const needsLive = direction === "rollback" ? m.to : m.from;
  if (live !== needsLive) return { swap: null, why: `it swaps ${m.from ?? "?"} and ${m.to}, and ${live ?? "an unknown version"} is live` };
  if (!(await has("previous"))) return { swap: null, why: "its stored tree is missing" };
  return { swap: { direction, goesLive: direction === "rollback" ? m.from : m.to, userCopy: await has("user") }, why: null };
}

export async function overview(inst: Installation): Promise<Overview> {
  const [flag, manifests, plugins, packages, live] = await Promise.all([readRecoveryFlag(inst), listManifests(inst), listPlugins(inst), listPackages(inst), installedVersion(inst).catch(() => null)]);
  const shown = manifests.slice(-MAX_MANIFESTS_SHOWN).reverse();
  // The one answer `gpm snapshots` gives too (lib/store/way-back.ts), over every manifest, not only those shown.
  const source = liveSource(manifests, live);
  const snapshots: SnapshotRow[] = [];
  for (const m of shown) snapshots.push({ m, liveSource: m === source, ...(await swapFor(inst, m, live)) });
  const versions = new Map(packages.map((p) => [p.name, p.version]));
  const rows = plugins.map((p) => ({ ...p, version: versions.get(p.name) ?? null }));
  rows.sort((a, b) => Number(b.quarantined) - Number(a.quarantined) || a.name.localeCompare(b.name));
  const known = new Set(plugins.map((p) => p.name));
  return { root: inst.root, live, flag, snapshots, plugins: rows, missingQuarantined: (flag?.quarantined ?? []).filter((n) => !known.has(n)), clear: flag ? await clearState(inst, flag) : null };
}

/** May the flag be cleared, as far as can be told without probing the site (the probe runs when asked). */
async function clearState(inst: Installation, flag: FlagState): Promise<ClearState> {
  const since = await rollbackSince(inst, flag);
  if (since) return { can: "yes", because: `a rollback with ${since.manifest} at ${since.at}` };
  if (inst.config.healthUrl) return { can: "on-health", url: inst.config.healthUrl };
  return { can: "no", why: `no rollback since recovery mode was turned on, and no healthUrl is configured to check the site` };
}
