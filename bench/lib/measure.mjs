/**
 * Running things and timing them: plain commands (the baseline), and gpm
 * itself as a child process with the RSS hook loaded.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, "..", "..");
export const GPM_BIN = path.join(REPO, "bin", "gpm");
const RSS_HOOK = pathToFileURL(path.join(REPO, "bench", "rss-hook.mjs")).href;

/** Run argv; resolve with exit code, output and wall time (ms). Never rejects on a non-zero exit. */
export function run(argv, { env, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0], argv.slice(1), { cwd: cwd ?? REPO, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 }));
  });
}

const TIME = "/usr/bin/time";

/**
 * Run argv and fail loudly unless it exits 0. With `cpuFile`, run it under
 * /usr/bin/time (when present) and add its CPU time (user + system, ms).
 */
export async function mustRun(argv, opts = {}) {
  const timed = opts.cpuFile && (await fsp.access(TIME, fsp.constants.X_OK).then(() => true, () => false));
  const r = await run(timed ? [TIME, "-o", opts.cpuFile, "-f", "%U %S", ...argv] : argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join("\n")}`);
  r.cpuMs = null;
  if (timed) {
    const [user, sys] = (await fsp.readFile(opts.cpuFile, "utf8")).trim().split("\n").pop().split(" ").map(Number);
    if (Number.isFinite(user) && Number.isFinite(sys)) r.cpuMs = (user + sys) * 1000;
  }
  return r;
}

/** Is `cmd` on PATH? */
export async function onPath(cmd) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    try {
      await fsp.access(path.join(dir, cmd), fsp.constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

/** Flush dirty pages, so that one measurement does not pay for the writes of the one before. */
export async function settle() {
  await run(["sync"]).catch(() => undefined);
}

/**
 * `gpm <args> --json` with the RSS hook: wall time of the whole process (spawn
 * to exit), its CPU time (ms), its peak RSS (MB, 10^6 bytes) and the parsed
 * JSON document. Throws unless gpm exits with `expect` (default 0).
 */
export async function gpm(args, { rssFile, expect = 0 }) {
  const env = { ...process.env, GPM_BENCH_RSS_FILE: rssFile };
  delete env.GPM_ROOT;
  await fsp.rm(rssFile, { force: true });
  const r = await run([process.execPath, "--import", RSS_HOOK, GPM_BIN, ...args, "--json"], { env });
  let doc = null;
  try {
    doc = JSON.parse(r.stdout);
  } catch {}
  if (r.code !== expect) {
    const why = doc?.error?.message ?? (r.stderr || r.stdout).trim().split("\n").slice(-5).join("\n");
    throw new Error(`gpm ${args.join(" ")} exited ${r.code ?? r.signal} (expected ${expect}): ${why}`);
  }
  let rssMB = null;
  let cpuMs = null;
  try {
    const u = JSON.parse(await fsp.readFile(rssFile, "utf8"));
    rssMB = (u.maxRssKiB * 1024) / 1e6;
    cpuMs = (u.userCpuUs + u.systemCpuUs) / 1000;
  } catch {}
  return { ms: r.ms, rssMB, cpuMs, doc, stderr: r.stderr };
}
