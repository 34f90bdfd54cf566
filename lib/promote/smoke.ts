import fs from "node:fs";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import { readAppVersion } from "../install/installation.js";
import { readJsonIfExists } from "../util/fsx.js";
import { runProcess, describeFailure } from "./run-process.js";
import type { FileRecord } from "../stage/files-record.js";

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
 * The smoke check of the promoted tree, still in maintenance:
 *  1. built in: the installed version now reads as the target, and every file
 *     of files.json under a swapped entry is present with its size (lstat
 *     only: the bytes were hashed as they were unpacked, and a rename does not
 *     change them; `gpm verify` re-hashes on demand);
 *  2. the configured command (argv, cwd = root, fresh process, timeout);
 *  3. healthUrl: GET, 2xx within the timeout (header X-GPM-Smoke-Check: 1, so
 *     an application answering 503 in maintenance can let it through).
 */
export async function smokeCheck(inst: Installation, o: { to: string; core: string[]; filesJson: string }): Promise<SmokeResult> {
  const cfg = inst.config.smokeCheck;
  const res: SmokeResult = { ok: true, reason: null, command: cfg?.command ?? null, exitCode: null, output: "", healthUrl: inst.config.healthUrl, status: null };
  const failWith = (reason: string): SmokeResult => ({ ...res, ok: false, reason });

  const version = await readAppVersion(inst);
  if (version !== o.to) return failWith(`the installed version reads as ${version ?? "(none)"}, expected ${o.to}`);
  const files = (await readJsonIfExists<FileRecord>(o.filesJson)) ?? {};
  const core = new Set(o.core);
  for (const [rel, info] of Object.entries(files)) {
    if (!core.has(rel.split("/")[0]!)) continue;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(inst.root, rel));
    } catch {
      return failWith(`${rel} of the release is missing after the swap`);
    }
    if (st.isFile() && st.size !== info.size) return failWith(`${rel} has ${st.size} bytes, the release has ${info.size}`);
  }

  const timeoutMs = (cfg?.timeoutSec ?? 120) * 1000;
  if (cfg?.command) {
    const out = await runProcess(cfg.command, { cwd: inst.root, timeoutMs, env: { GPM_SMOKE_CHECK: "1", GPM_TARGET_VERSION: o.to } });
    res.exitCode = out.exitCode;
    res.output = out.output;
    const why = describeFailure("smoke check", cfg.command, out, timeoutMs);
    if (why) return failWith(why);
  }
  if (inst.config.healthUrl) {
    try {
      const r = await fetch(inst.config.healthUrl, { headers: { "X-GPM-Smoke-Check": "1" }, signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
      res.status = r.status;
      await r.body?.cancel();
      if (r.status < 200 || r.status > 299) return failWith(`health check ${inst.config.healthUrl} answered ${r.status}`);
    } catch (err) {
      return failWith(`health check ${inst.config.healthUrl} failed: ${(err as Error).message}`);
    }
  }
  return res;
}
