/** Shared set-up of the preflight tests: an installation, a release, a fake php on PATH. */
import fsp from "node:fs/promises";
import path from "node:path";
import { openInstallation, type Installation } from "../../../lib/install/installation.js";
import { writeManifest, type Manifest } from "../../../lib/store/manifest.js";
import { sha256File } from "../../../lib/util/fsx.js";
import { silentLogger } from "../../../lib/util/log.js";
import type { Release } from "../../../lib/stage/types.js";
import type { PreflightInput } from "../../../lib/preflight/types.js";
import { makeSite, tmpDir, writeTree, type TreeSpec } from "../../helpers/fixtures.js";

export function release(over: Partial<Release> = {}): Release {
  return {
    version: "1.8.0",
    url: "file:///nowhere/grav-update-1.8.0.zip",
    sha256: "0".repeat(64),
    size: 1000,
    date: "2025-10-17",
    channel: "stable",
    changelog: "",
    requires: {},
    conflicts: [],
    signature: null,
    ...over,
  };
}

/** A Grav-like site at 1.7.48 (see makeSite) opened as an Installation. */
export async function site(opts: { config?: Record<string, unknown>; extra?: TreeSpec } = {}): Promise<Installation> {
  const root = await tmpDir("gpm-preflight-");
  await makeSite(root, "1.7.48", opts);
  return openInstallation({ root });
}

export function input(inst: Installation, over: Partial<PreflightInput> = {}): PreflightInput {
  return { inst, release: release(), log: silentLogger, installed: "1.7.48", ...over };
}

/** Store a finalized manifest of an upgrade to `to`, with files.json recording `files` as they are now. */
export async function recordInstall(inst: Installation, id: string, to: string, files: string[], core = ["bin", "index.php", "system", "vendor"]): Promise<void> {
  const m: Manifest = {
    id,
    kind: "upgrade",
    from: "1.7.0",
    to,
    createdAt: "2025-10-17T00:00:00.000Z",
    finishedAt: "2025-10-17T00:01:00.000Z",
    status: "finalized",
    package: { url: "file:///x.zip", sha256: "0".repeat(64), size: 1 },
    runtime: { node: process.version, php: null, os: "linux" },
    packages: [],
    core,
    preserved: [],
    files: { count: files.length, bytes: 0 },
    timings: {},
    downtimeMs: 1,
    smoke: null,
    error: null,
    swaps: [],
  };
  await fsp.mkdir(path.join(inst.paths.snapshots, id), { recursive: true });
  await writeManifest(inst, m);
  const record: Record<string, { sha256: string; size: number; mode: number }> = {};
  for (const f of files) {
    const p = path.join(inst.root, f);
    const st = await fsp.stat(p);
    record[f] = { sha256: await sha256File(p), size: st.size, mode: st.mode & 0o777 };
  }
  await fsp.writeFile(path.join(inst.paths.snapshots, id, "files.json"), JSON.stringify(record));
}

/**
 * A folder holding a fake `php` (a /bin/sh script: its shebang does not need PATH).
 * `version: null` makes it fail like a broken PHP install.
 */
export async function fakePhpBin(opts: { version?: string | null; modules?: string[] } = {}): Promise<string> {
  const bin = await tmpDir("gpm-fakephp-");
  const version = opts.version === undefined ? "8.2.7-1ubuntu1" : opts.version;
  const modules = opts.modules ?? ["Core", "curl", "json", "mbstring", "zip"];
  const script =
    version === null
      ? "#!/bin/sh\necho 'PHP Fatal error: broken install' >&2\nexit 255\n"
      : `#!/bin/sh\ncase "$1" in\n  -r) printf '%s' '${version}' ;;\n  -m) printf '[PHP Modules]\\n${modules.join("\\n")}\\n\\n[Zend Modules]\\nZend OPcache\\n\\n' ;;\n  *) exit 1 ;;\nesac\n`;
  await writeTree(bin, { php: { content: script, mode: 0o755 } });
  return bin;
}

/** Run `fn` with PATH set to exactly `dirs` (restored afterwards, whatever happens). */
export async function withPath<T>(dirs: string[], fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = dirs.join(path.delimiter);
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}
