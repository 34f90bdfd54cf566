/**
 * Helpers shared by the crash-safety e2e tests (kill, kill-random, signals,
 * faults, lock, recovery-on-start): clone a prepared site, compare a live
 * tree with a reference as a whole, check that gpm's own state is clean, and
 * drive the pause seam. Built on test/helpers/fixtures.ts; nothing mocked.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { treeState, runGpm, GPM_BIN, REPO, type TreeEntryInfo } from "../helpers/fixtures.js";
import { jsonDoc } from "../helpers/json.js";


/** A copy of `src` (modes, times, links kept) in a fresh temp folder; returns the copy's root. */
export { cloneSite } from "../helpers/sites.js";

/**
 * What "the tree" means for whole-tree comparisons: everything at the root
 * except gpm's own bookkeeping (snapshots/, .gpm/), the upgrade records that
 * SPEC puts in user/data/upgrades/ (rewritten after every swap), and the
 * contents of cache/ (emptied on promote by design). Everything else —
 * core, user/, preserved and foreign entries, the maintenance flag — counts.
 */
export const notBookkeeping = (rel: string): boolean =>
  rel === "snapshots" ||
  rel.startsWith("snapshots/") ||
  rel === ".gpm" ||
  rel.startsWith(".gpm/") ||
  rel === "user/data" ||
  rel === "user/data/upgrades" ||
  rel.startsWith("user/data/upgrades/") ||
  rel.startsWith("cache/");

export type State = Record<string, TreeEntryInfo>;

export function liveState(root: string): Promise<State> {
  return treeState(root, { exclude: notBookkeeping });
}

/** user/ as content: the records gpm keeps there are not content. */
export function userState(root: string): Promise<State> {
  return treeState(path.join(root, "user"), { exclude: (r) => r === "data" || r === "data/upgrades" || r.startsWith("data/upgrades/") });
}

/** The first few paths where two states differ, for a readable assertion message. */
export function stateDiff(got: State, want: State, max = 8): string {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(got), ...Object.keys(want)])) {
    const a = got[k];
    const b = want[k];
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${k}: ${a ? a.type + (a.hash ? ":" + a.hash.slice(0, 8) : "") : "absent"} vs expected ${b ? b.type + (b.hash ? ":" + b.hash.slice(0, 8) : "") : "absent"}`);
    if (out.length >= max) break;
  }
  return out.join("; ");
}

export interface StatusJson {
  installed: string | null;
  pendingTransaction: unknown;
  maintenance: unknown;
  recovery: unknown;
  lock: unknown;
  recovered: string[];
}

/** `gpm status --json` (the command that runs recovery first); asserts exit 0. */
export async function gpmStatus(root: string, env: Record<string, string> = {}): Promise<StatusJson> {
  const r = await runGpm(["status", "--json", "--root", root], { env });
  assert.equal(r.code, 0, `gpm status exited ${r.code ?? r.signal}: ${r.stderr}`);
  return jsonDoc(r.stdout) as StatusJson;
}

/**
 * gpm's own state is clean: no journal, no maintenance flag, no live lock,
 * no recovery flag, and every folder of the snapshot store is a finished
 * snapshot (a manifest in a final status, nothing of a stage or a swap left).
 */
export async function assertCleanState(root: string, s: StatusJson, maintenanceFlag = ".upgrading"): Promise<void> {
  assert.equal(s.pendingTransaction, null, "no pending transaction");
  assert.equal(s.maintenance, null, "maintenance flag down");
  assert.equal(s.recovery, null, "not in recovery mode");
  assert.equal(s.lock, null, "no live lock");
  await assert.rejects(fsp.lstat(path.join(root, ".gpm/journal.json")), "journal gone");
  await assert.rejects(fsp.lstat(path.join(root, maintenanceFlag)), "maintenance flag gone");
  const store = path.join(root, "snapshots");
  for (const id of (await fsp.readdir(store).catch(() => [] as string[])).filter((n) => n !== ".htaccess")) {
    const dir = path.join(store, id);
    const m = JSON.parse(await fsp.readFile(path.join(dir, "manifest.json"), "utf8").catch(() => "null")) as { id: string; status: string } | null;
    assert.ok(m && m.id === id, `snapshots/${id} is a finished snapshot with a manifest`);
    assert.ok(["finalized", "swapped", "failed", "restored"].includes(m.status), `snapshots/${id} has a final status (${m.status})`);
    const names = await fsp.readdir(dir);
    for (const n of ["package.zip", "package", "cleared", ".swap", ".swap-user", ".cleared"]) assert.ok(!names.includes(n), `snapshots/${id}/${n} left behind`);
    if (m.status === "failed" || m.status === "restored") assert.ok(!names.includes("previous"), `snapshots/${id} (${m.status}) keeps no tree`);
  }
}

/** Run `fn` over `items` with at most `limit` at once (the CLI runs are mostly waiting). */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A gpm child started in the background (for signals, pauses, locks and random kills). */
export interface Running {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function startGpm(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [GPM_BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, GPM_ROOT: undefined, ...env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until `p` exists (the pause seam's marker); fail if the child ends first. */
export async function waitForFile(p: string, run?: Running, timeoutMs = 60_000): Promise<void> {
  let ended = false;
  void run?.done.then(() => (ended = true));
  const until = Date.now() + timeoutMs;
  while (!fs.existsSync(p)) {
    if (ended) {
      const r = await run!.done;
      throw new Error(`gpm ended (${r.code ?? r.signal}) before ${path.basename(p)}: ${r.stderr}`);
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${p}`);
    await sleep(5);
  }
}

/** The marker GPM_TEST_PAUSE_AT=<step> writes; removing it lets the paused gpm go on. */
export const pauseMarker = (root: string, step: string): string => path.join(root, ".gpm", `paused-${step}`);
