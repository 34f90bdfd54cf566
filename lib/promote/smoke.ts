import path from "node:path";
import type { Installation } from "../install/installation.js";
import { readAppVersion } from "../install/installation.js";
import fs from "node:fs";
import { readJsonIfExists } from "../util/fsx.js";
import { probeHealth } from "../util/health.js";
import { fail } from "../util/errors.js";
import { holds } from "../txn/fs-ops.js";
import type { Move } from "../txn/journal.js";
import { runProcess, describeFailure } from "./run-process.js";
import { runPhpServerCheck } from "./php-server.js";
import type { FileRecord } from "../store/files-record.js";

export interface SmokeResult {
  ok: boolean;
  /** One line: why it failed. */
  reason: string | null;
  command: string[] | null;
  exitCode: number | null;
  output: string;
  healthUrl: string | null;
  status: number | null;
}


/**
 * The smoke check of the promoted tree, still in maintenance (so it costs
 * O(top-level entries), never O(files): the staged files were checked against
 * files.json before the flag went up, see checkStagedFiles):
 *  1. built in: the installed version now reads as the target, and every
 *     staged entry stands at its live path — the very entry, by identity;
 *  2. the configured command (argv, cwd = root, fresh process, timeout), or
 *     the phpServer check (php -S on the promoted root, lib/promote/php-server.ts);
 *  3. healthUrl: GET, 2xx within the timeout (header X-GPM-Smoke-Check: 1, so
 *     an application answering 503 in maintenance can let it through).
 */
export async function smokeCheck(inst: Installation, o: { to: string; installed: Move[] }): Promise<SmokeResult> {
  const cfg = inst.config.smokeCheck;
  const res: SmokeResult = { ok: true, reason: null, command: cfg?.command ?? null, exitCode: null, output: "", healthUrl: inst.config.healthUrl, status: null };
  const failWith = (reason: string): SmokeResult => ({ ...res, ok: false, reason });

  const version = await readAppVersion(inst);
  if (version !== o.to) return failWith(`the installed version reads as ${version ?? "(none)"}, expected ${o.to}`);
  for (const m of o.installed) {
    if (!(await holds(path.join(inst.root, m.to), m))) return failWith(`${m.to} of the release is not in place after the swap`);
  }

  const timeoutMs = (cfg?.timeoutSec ?? 60) * 1000;
  if (cfg?.phpServer && !cfg.command) {
    const out = await runPhpServerCheck(inst.root, cfg.phpServer, { timeoutMs, env: { GPM_SMOKE_CHECK: "1", GPM_TARGET_VERSION: o.to } });
    res.command = out.command;
    res.status = out.status;
    res.output = out.output;
    if (out.reason) return failWith(out.reason);
  }
  if (cfg?.command) {
    const out = await runProcess(cfg.command, { cwd: inst.root, timeoutMs, env: { GPM_SMOKE_CHECK: "1", GPM_TARGET_VERSION: o.to } });
    res.exitCode = out.exitCode;
    res.output = out.output;
    const why = describeFailure("smoke check", cfg.command, out, timeoutMs);
    if (why) return failWith(why);
  }
  if (inst.config.healthUrl) {
    const r = await probeHealth(inst.config.healthUrl, timeoutMs, { "X-GPM-Smoke-Check": "1" });
    if (r.status) res.status = r.status;
    if (r.status && !r.ok) return failWith(`health check ${inst.config.healthUrl} answered ${r.status}`);
    if (!r.ok) return failWith(`health check ${inst.config.healthUrl} failed: ${r.detail}`);
  }
  return res;
}

/**
 * Before the maintenance flag goes up: every file of files.json under a core
 * entry is present in the staged package with its size. The bytes were hashed
 * as they were unpacked; this catches a stage that something damaged since.
 */
export async function checkStagedFiles(packageDir: string, core: string[], filesJson: string): Promise<void> {
  const files = (await readJsonIfExists<FileRecord>(filesJson)) ?? {};
  const top = new Set(core);
  for (const [rel, info] of Object.entries(files)) {
    if (!top.has(rel.split("/")[0]!)) continue;
    // lstatSync: 20,000 awaited lstat calls cost seconds of thread-pool round trips; these cost milliseconds.
    const st = lstatSyncOrNull(path.join(packageDir, rel));
    if (!st) throw fail(`the staged release lacks ${rel}`, "run the upgrade again; the stage is rebuilt from the archive");
    if (st.isFile() && st.size !== info.size) throw fail(`the staged ${rel} has ${st.size} bytes, files.json says ${info.size}`, "run the upgrade again");
  }
}

function lstatSyncOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}
