/**
 * What webserver/gpm-guard.php (PHP's auto_prepend_file) reads from gpm, and
 * the in-flight drain that makes "zero torn responses" hold for requests that
 * started before the maintenance flag went up.
 *
 * `.gpm/guard.json`: the flag paths (config maintenanceFlag, recoveryFlag), and
 * after each upgrade `fatalWindowUntil` (ISO time) with the manifest id and
 * version: until then, a fatal error in a request makes the guard write the
 * recovery flag (SPEC section 8).
 *
 * `.gpm/inflight.lock`: the guard holds a shared flock(2) on it for the whole
 * request (non-blocking; when it cannot, the request gets 503). After raising
 * the flag gpm takes it exclusively — which waits for the requests already
 * running — and holds it until the flag is down.
 *
 * The drain only counts requests that hold the lock, so PHP's user must be
 * able to open it: a lock it cannot open (gpm run as root before the lock was
 * given to the site's owner, a mode changed by hand) is one the guard never
 * holds, and the drain then waits for nothing — the swap renames the tree
 * under requests still running (torn responses, seen in the real-server test
 * until this was fixed). So the lock is made early (self-upgrade: before
 * staging) and every swap first makes it the site owner's, mode 0640
 * (settleInflightLock), waiting out requests that began before a repair.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import type { Installation } from "../install/installation.js";
import { giveOwner, mkdirp } from "../util/owner.js";
import type { Logger } from "../util/log.js";
import { writeJsonDurable } from "../util/fsx.js";
import { STATE_FILE_MODE } from "./state-dirs.js";

export const GUARD_FILE = "guard.json";
export const INFLIGHT_LOCK = "inflight.lock";
/** How long after an upgrade a fatal error in a request puts the site in recovery mode. */
export const FATAL_WINDOW_MS = 15 * 60_000;
/** Longest gpm waits for running requests to finish after raising the flag. */
export const DRAIN_TIMEOUT_MS = 10_000;

export interface GuardFile {
  maintenanceFlag: string;
  recoveryFlag: string;
  retryAfterSec: number;
  fatalWindowUntil: string | null;
  manifest: string | null;
  version: string | null;
}

const guardPath = (inst: Installation): string => path.join(inst.paths.gpmDir, GUARD_FILE);

/** Write guard.json and the in-flight lock file (the guard only ever opens them read-only). */
export async function writeGuardFile(inst: Installation, win: { manifest: string; version: string; until: Date } | null = null): Promise<void> {
  const g: GuardFile = {
    maintenanceFlag: inst.config.maintenanceFlag,
    recoveryFlag: inst.config.recoveryFlag,
    retryAfterSec: 30,
    fatalWindowUntil: win ? win.until.toISOString() : null,
    manifest: win?.manifest ?? null,
    version: win?.version ?? null,
  };
  await mkdirp(inst.paths.gpmDir);
  await writeJsonDurable(guardPath(inst), g);
  await fsp.chmod(guardPath(inst), STATE_FILE_MODE).catch(() => undefined);
  await prepareInflightLock(inst);
}

/** How long a swap waits, after the lock had to be repaired, for requests that began before and could not hold it. */
export const UNCOUNTED_GRACE_MS = 2_000;

let repairedAt = 0;

/**
 * Make `.gpm/inflight.lock` usable by the guard: create it (unless `create`
 * is false), give an existing one the site's owner and mode 0640. A lock that
 * is not a regular file (a link, a FIFO) is left alone and never used.
 * Repairing an existing lock is remembered: requests running at that moment
 * could not hold it, and settleInflightLock waits for them.
 */
export async function prepareInflightLock(inst: Installation, o: { create?: boolean } = {}): Promise<void> {
  const lock = path.join(inst.paths.gpmDir, INFLIGHT_LOCK);
  const before = await fsp.lstat(lock).catch(() => null);
  if (before ? !before.isFile() : o.create === false) return;
  if (!before) {
    await mkdirp(inst.paths.gpmDir);
    await fsp.writeFile(lock, "", { flag: "a", mode: STATE_FILE_MODE });
  }
  await giveOwner(lock);
  if (((before?.mode ?? STATE_FILE_MODE) & 0o777) !== STATE_FILE_MODE) await fsp.chmod(lock, STATE_FILE_MODE);
  if (!before) return;
  const after = await fsp.lstat(lock);
  if (before.uid !== after.uid || before.gid !== after.gid || (before.mode & 0o777) !== (after.mode & 0o777)) repairedAt = Date.now();
}

/**
 * Before a swap raises the maintenance flag: the lock is usable (repaired if
 * need be), and when it was repaired less than `graceMs` ago, wait out the
 * rest — before the flag, so it costs latency, not downtime — for requests
 * that began while PHP could not open it. They do not hold it, so the drain
 * could not wait for them. A lock created fresh needs no wait: self-upgrade
 * creates it before staging, which is long past by the swap.
 */
export async function settleInflightLock(inst: Installation, log: Logger, graceMs = UNCOUNTED_GRACE_MS): Promise<void> {
  await prepareInflightLock(inst, { create: false });
  const wait = repairedAt + graceMs - Date.now();
  if (repairedAt === 0 || wait <= 0) return;
  log.warn({ lock: path.join(inst.paths.gpmDir, INFLIGHT_LOCK) }, `the in-flight lock was not the site owner's (or not mode 0640), so PHP could not hold it: fixed; waiting ${wait} ms for requests that began before`);
  await new Promise((r) => setTimeout(r, wait));
}

/** After an upgrade: open the fatal-error window for FATAL_WINDOW_MS. */
export async function openFatalWindow(inst: Installation, manifest: string, version: string, now = Date.now()): Promise<void> {
  await writeGuardFile(inst, { manifest, version, until: new Date(now + FATAL_WINDOW_MS) });
}

export interface Drain {
  /** Requests still running when the deadline passed (the swap went ahead anyway). */
  timedOut: boolean;
  release(): void;
}

let held: ChildProcess | null = null;

/**
 * Take `.gpm/inflight.lock` exclusively (util-linux `flock`, as Node has no
 * flock): returns once every request the guard let in has finished, or at
 * DRAIN_TIMEOUT_MS. The lock lives as long as the `flock … cat` child: closing
 * its stdin (release, or gpm dying) ends it. No lock file (no guard was ever
 * set up by gpm) or no `flock` program: nothing to wait for.
 */
export async function drainRequests(inst: Installation, log: Logger, timeoutMs = DRAIN_TIMEOUT_MS): Promise<Drain> {
  const none: Drain = { timedOut: false, release: () => undefined };
  const lock = path.join(inst.paths.gpmDir, INFLIGHT_LOCK);
  if (!(await fsp.lstat(lock).then((s) => s.isFile(), () => false))) return none;
  releaseDrain();
  const child = spawn("flock", ["-x", "-w", String(Math.max(1, Math.ceil(timeoutMs / 1000))), lock, "cat"], { stdio: ["pipe", "pipe", "ignore"] });
  const outcome = await new Promise<"held" | "timeout" | "unavailable">((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), timeoutMs + 1000);
    child.on("error", () => resolve("unavailable"));
    child.on("exit", (code) => resolve(code === 1 ? "timeout" : "unavailable"));
    child.stdout!.once("data", () => resolve("held"));
    child.stdin!.write("x");
    timer.unref();
    child.once("exit", () => clearTimeout(timer));
  });
  if (outcome !== "held") {
    child.stdin!.destroy();
    child.kill("SIGKILL");
    if (outcome === "timeout") log.warn({ lock }, `requests were still running ${Math.round(timeoutMs / 1000)}s after the maintenance flag went up; swapping anyway`);
    return { timedOut: outcome === "timeout", release: () => undefined };
  }
  // Never keep gpm alive for it: when gpm exits (even with the flag left up, in recovery mode)
  // the pipe closes, `cat` ends, and the lock goes with it.
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  held = child;
  return { timedOut: false, release: releaseDrain };
}

/** Let requests in again (called when the maintenance flag comes down). */
export function releaseDrain(): void {
  if (!held) return;
  held.stdin?.end();
  held.stdout?.destroy();
  held.unref();
  held = null;
}
