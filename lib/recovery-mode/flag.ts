import path from "node:path";
import fsp from "node:fs/promises";
import { errnoCode } from "../util/errors.js";
import { fsyncDir, writeJsonDurable } from "../util/fsx.js";
import { probeHealth } from "../util/health.js";
import type { Installation } from "../install/installation.js";
import { isValidId, listManifests } from "../store/manifest.js";
import { isSafeName as isValidPluginName } from "../store/names.js";
import { mkdirp } from "../util/owner.js";

/**
 * The recovery flag (SPEC section 8), `system/recovery.flag` by default: JSON
 * with `reason`, `createdAt`, `manifest`, `quarantined`. gpm writes it when a
 * restore fails and on `gpm recovery enable`; the application may write it on
 * a fatal bootstrap error, in whatever shape it manages then. So reading is
 * lenient: any file there means "recovery mode on", and fields that are
 * missing or malformed get safe defaults rather than an error.
 */
export interface RecoveryFlag {
  reason: string;
  createdAt: string;
  /** The manifest involved (the upgrade that failed), or null. */
  manifest: string | null;
  /** Plugin/theme names the application or an operator put aside. */
  quarantined: string[];
}

export interface FlagState extends RecoveryFlag {
  /** False when the file was not a JSON object (the reason is then "unreadable flag"). */
  readable: boolean;
  /** For an unreadable flag: the start of what the file holds, so an operator can see what wrote it. */
  raw?: string;
}

export const UNREADABLE_REASON = "unreadable flag";
/** Plugin and theme names: one path segment, never "." or ".." (the same rule as manifest ids). */
export { SAFE_NAME as PLUGIN_NAME, isSafeName as isValidPluginName } from "../store/names.js";

/** The flag as it is on disk, or null when recovery mode is off. */
export async function readRecoveryFlag(inst: Installation): Promise<FlagState | null> {
  const file = inst.paths.recoveryFlag;
  let st;
  try {
    st = await fsp.stat(file);
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return null;
    throw err;
  }
  let text: string | undefined;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch {
    text = undefined; // a folder or an unreadable file there still means "on"
  }
  let raw: unknown;
  try {
    raw = text === undefined ? undefined : JSON.parse(text);
  } catch {
    raw = undefined;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return {
      reason: UNREADABLE_REASON,
      createdAt: st.mtime.toISOString(),
      manifest: null,
      quarantined: [],
      readable: false,
      raw: (text ?? "").slice(0, 500),
    };
  }
  const o = raw as Record<string, unknown>;
  const createdAt = typeof o.createdAt === "string" && !Number.isNaN(Date.parse(o.createdAt)) ? o.createdAt : st.mtime.toISOString();
  return {
    reason: typeof o.reason === "string" && o.reason.trim() ? o.reason : "(no reason given)",
    createdAt,
    manifest: typeof o.manifest === "string" && isValidId(o.manifest) ? o.manifest : null,
    quarantined: Array.isArray(o.quarantined) ? [...new Set(o.quarantined.filter((n): n is string => typeof n === "string" && isValidPluginName(n)))] : [],
    readable: true,
  };
}

/** Write the flag durably (the parent folder is created if missing). */
export async function writeRecoveryFlag(inst: Installation, flag: RecoveryFlag): Promise<void> {
  await mkdirp(path.dirname(inst.paths.recoveryFlag));
  const doc: RecoveryFlag = { reason: flag.reason, createdAt: flag.createdAt, manifest: flag.manifest, quarantined: flag.quarantined };
  await writeJsonDurable(inst.paths.recoveryFlag, doc);
}

/** Remove the flag. Returns false when there was none. */
export async function clearRecoveryFlag(inst: Installation): Promise<boolean> {
  try {
    await fsp.rm(inst.paths.recoveryFlag, { recursive: true });
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return false;
    throw err;
  }
  await fsyncDir(path.dirname(inst.paths.recoveryFlag));
  return true;
}

/**
 * Turn recovery mode on (`gpm recovery enable`). An existing flag is kept as it
 * is: its `createdAt` is what `clear` measures "a rollback since" against, and
 * its quarantine list may come from the application.
 */
export async function enableRecovery(inst: Installation, reason: string, now = new Date()): Promise<{ flag: FlagState; created: boolean }> {
  const existing = await readRecoveryFlag(inst);
  if (existing) return { flag: existing, created: false };
  const manifests = await listManifests(inst);
  const flag: RecoveryFlag = { reason, createdAt: now.toISOString(), manifest: manifests.at(-1)?.id ?? null, quarantined: [] };
  await writeRecoveryFlag(inst, flag);
  return { flag: { ...flag, readable: true }, created: true };
}

/** Rewrite the quarantine list, keeping everything else (an unreadable flag becomes a readable one that says so). */
export async function updateQuarantine(inst: Installation, change: (names: string[]) => string[]): Promise<string[] | null> {
  const flag = await readRecoveryFlag(inst);
  if (!flag) return null;
  const quarantined = [...new Set(change(flag.quarantined))].sort();
  const reason = flag.readable ? flag.reason : `${UNREADABLE_REASON}${flag.raw ? `: ${flag.raw.split("\n")[0]!.slice(0, 200)}` : ""}`;
  await writeRecoveryFlag(inst, { reason, createdAt: flag.createdAt, manifest: flag.manifest, quarantined });
  return quarantined;
}

export type ClearBasis = { ok: true; because: "rollback"; manifest: string; at: string } | { ok: true; because: "health"; url: string; status: number } | { ok: false; why: string };

/**
 * May the flag be cleared (SPEC section 8)? Yes after a rollback made since the
 * flag was set (a manifest `swaps` entry later than `createdAt`), or when the
 * configured `healthUrl` answers 2xx within `timeoutMs`.
 */
export async function clearBasis(inst: Installation, flag: RecoveryFlag, timeoutMs = 10_000): Promise<ClearBasis> {
  const latest = await rollbackSince(inst, flag);
  if (latest) return { ok: true, because: "rollback", ...latest };
  const noRollback = `no rollback since recovery mode was turned on (${flag.createdAt})`;
  const url = inst.config.healthUrl;
  if (!url) return { ok: false, why: `${noRollback}, and no healthUrl is configured to check the site` };
  const probe = await probeHealth(url, timeoutMs);
  if (probe.ok) return { ok: true, because: "health", url, status: probe.status };
  return { ok: false, why: `${noRollback}, and the health check of ${url} failed: ${probe.detail}` };
}

/** The latest rollback or redo (a manifest `swaps` entry) later than the flag's `createdAt`, or null. */
export async function rollbackSince(inst: Installation, flag: RecoveryFlag): Promise<{ manifest: string; at: string } | null> {
  const since = Date.parse(flag.createdAt);
  let latest: { manifest: string; at: string } | null = null;
  for (const m of await listManifests(inst)) {
    for (const s of Array.isArray(m.swaps) ? m.swaps : []) {
      const at = Date.parse(s.at);
      if (at > since && (!latest || at > Date.parse(latest.at))) latest = { manifest: m.id, at: s.at };
    }
  }
  return latest;
}
