/**
 * Ask the PHP on PATH about itself, in a child process with a timeout and no
 * shell. Used by the runtime-php and php-extensions checks and by the manifest (runtime.php).
 */
import { execFile } from "node:child_process";
import { errnoCode } from "./errors.js";

export const PHP_TIMEOUT_MS = 15_000;

export type PhpAnswer = { kind: "ok"; stdout: string } | { kind: "missing" } | { kind: "error"; message: string };

export function runPhp(args: string[], timeoutMs = PHP_TIMEOUT_MS): Promise<PhpAnswer> {
  return new Promise((resolve) => {
    execFile("php", args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      if (!err) return resolve({ kind: "ok", stdout });
      if (errnoCode(err) === "ENOENT") return resolve({ kind: "missing" });
      const e = err as { killed?: boolean; signal?: string | null; code?: unknown };
      if (e.killed && e.signal) return resolve({ kind: "error", message: `php did not answer within ${Math.round(timeoutMs / 1000)}s` });
      const tail = String(stderr || stdout).trim().split("\n").slice(-1)[0] ?? "";
      resolve({ kind: "error", message: `php ${args[0] ?? ""} exited with ${String(e.code ?? e.signal)}${tail ? `: ${tail}` : ""}` });
    });
  });
}

/** PHP_VERSION of the php on PATH, reduced to x.y.z (distributions append `-1ubuntu2` and the like). */
export async function phpVersion(): Promise<{ kind: "ok"; version: string; raw: string } | Exclude<PhpAnswer, { kind: "ok" }>> {
  const a = await runPhp(["-r", "echo PHP_VERSION;"]);
  if (a.kind !== "ok") return a;
  const raw = a.stdout.trim().split("\n").slice(-1)[0]?.trim() ?? "";
  const m = /^(\d+\.\d+(?:\.\d+)?)/.exec(raw);
  if (!m) return { kind: "error", message: `php reported an unreadable version "${raw.slice(0, 60)}"` };
  return { kind: "ok", version: m[1]!, raw };
}

/** Loaded extensions (`php -m`), lower-cased; Zend extensions also without their `zend ` prefix. */
export async function phpModules(): Promise<{ kind: "ok"; modules: Set<string> } | Exclude<PhpAnswer, { kind: "ok" }>> {
  const a = await runPhp(["-m"]);
  if (a.kind !== "ok") return a;
  const modules = new Set<string>();
  for (const line of a.stdout.split(/\r?\n/)) {
    const name = line.trim().toLowerCase();
    if (!name || name.startsWith("[")) continue;
    modules.add(name);
    if (name.startsWith("zend ")) modules.add(name.slice(5));
  }
  return { kind: "ok", modules };
}
