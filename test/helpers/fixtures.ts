/**
 * Shared test fixtures: real temp folders, real zips (archiver), a real HTTP
 * server on 127.0.0.1, and the real CLI as a child process. Nothing is mocked.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import crypto from "node:crypto";
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { ZipArchive } from "archiver";

import { checkJsonRun } from "./json.js";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const GPM_BIN = path.join(REPO, "bin", "gpm");

const created: string[] = [];
/** A fresh temp folder, removed after the run (kept when GPM_KEEP_TMP is set). */
export async function tmpDir(prefix = "gpm-test-"): Promise<string> {
  const d = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), prefix)));
  created.push(d);
  return d;
}
process.on("exit", () => {
  if (process.env.GPM_KEEP_TMP) return;
  for (const d of created) {
    try {
      fs.chmodSync(d, 0o755);
      fs.rmSync(d, { recursive: true, force: true });
    } catch {}
  }
});

/** A file's content, or a file with a mode, a symlink, or an (empty) folder. */
export type Entry = string | Buffer | { content: string | Buffer; mode?: number } | { symlink: string } | { dir: true; mode?: number };
export type TreeSpec = Record<string, Entry>;

export async function writeTree(dir: string, spec: TreeSpec): Promise<void> {
  for (const [rel, e] of Object.entries(spec)) {
    const p = path.join(dir, rel);
    await fsp.mkdir(path.dirname(p), { recursive: true });
    if (typeof e === "string" || Buffer.isBuffer(e)) await fsp.writeFile(p, e);
    else if ("symlink" in e) await fsp.symlink(e.symlink, p);
    else if ("dir" in e) await fsp.mkdir(p, { recursive: true, mode: e.mode ?? 0o755 });
    else {
      await fsp.writeFile(p, e.content);
      if (e.mode !== undefined) await fsp.chmod(p, e.mode);
    }
  }
}

/** The files of a Grav-like release package of `version` (what its zip holds). */
export function releaseTree(version: string, opts: { smokeExit?: number; extra?: TreeSpec; drop?: string[] } = {}): TreeSpec {
  const tree: TreeSpec = {
    "index.php": `<?php // Grav ${version}\nrequire 'system/defines.php';\n`,
    "composer.json": JSON.stringify({ name: "getgrav/grav", version, require: { php: ">=8.1", "psr/log": "^3.0" } }, null, 2),
    "CHANGELOG.md": `# v${version}\n* release ${version}\n`,
    "system/defines.php": `<?php\ndefine('GRAV_VERSION', '${version}');\n`,
    "system/src/Grav.php": `<?php class Grav { const V = '${version}'; }\n`,
    [`system/src/only-in-${version}.php`]: `<?php // ${version}\n`,
    "bin/grav": { content: `#!/bin/sh\necho grav ${version}\n`, mode: 0o755 },
    "bin/check.mjs": { content: `#!/usr/bin/env node\nconsole.log("smoke ${version}");\nprocess.exit(${opts.smokeExit ?? 0});\n`, mode: 0o755 },
    "vendor/autoload.php": `<?php // autoload ${version}\n`,
    "vendor/psr/log/composer.json": JSON.stringify({ name: "psr/log", version: "3.0.0" }),
    "user/config/system.yaml": "# default user config shipped in the package\n",
    "robots.txt": "User-agent: *\n",
    ".htaccess": "# default htaccess\n",
    "cache/.gitkeep": "",
    "logs/.gitkeep": "",
    ...opts.extra,
  };
  for (const d of opts.drop ?? []) delete tree[d];
  return tree;
}

/** A live Grav-like site at `version`, with user content, a plugin and a site-owner file. */
export async function makeSite(root: string, version: string, opts: { config?: Record<string, unknown> | null; extra?: TreeSpec } = {}): Promise<void> {
  await fsp.mkdir(root, { recursive: true });
  await writeTree(root, {
    ...releaseTree(version),
    "user/pages/01.home/default.md": "---\ntitle: Home\n---\n# Welcome\n",
    "user/config/site.yaml": "title: My Site\n",
    "user/plugins/myplugin/composer.json": JSON.stringify({ name: "me/myplugin", require: { "psr/log": "^1.0 || ^3.0" } }),
    "user/plugins/myplugin/myplugin.php": "<?php // plugin\n",
    "user/accounts/admin.yaml": { content: "password: secret\n", mode: 0o600 },
    "cache/compiled/abc.php": "<?php // cached\n",
    "logs/grav.log": "log line\n",
    "robots.txt": "User-agent: *\nDisallow: /private\n",
    "owner-notes.txt": "site owner file\n",
    ...opts.extra,
  });
  await fsp.symlink("pages/01.home/default.md", path.join(root, "user", "home-link.md"));
  if (opts.config !== null) {
    const config = { smokeCheck: { command: ["node", "bin/check.mjs"], timeoutSec: 30 }, ...(opts.config ?? {}) };
    await fsp.writeFile(path.join(root, "gpm.json"), JSON.stringify(config, null, 2));
  }
}

export interface ZipEntry {
  name: string;
  content?: string | Buffer;
  mode?: number;
  symlink?: string;
  dir?: boolean;
}

/** Build a real zip with archiver. `wrap` puts every entry under one top-level folder. */
export async function makeZip(file: string, entries: ZipEntry[] | TreeSpec, opts: { wrap?: string } = {}): Promise<{ sha256: string; size: number }> {
  const list: ZipEntry[] = Array.isArray(entries) ? entries : treeToEntries(entries);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const out = fs.createWriteStream(file);
  const archive = new ZipArchive({ zlib: { level: 1 } });
  const done = new Promise<void>((resolve, reject) => {
    out.on("close", () => resolve());
    archive.on("error", reject);
    out.on("error", reject);
  });
  archive.pipe(out);
  const pre = opts.wrap ? `${opts.wrap}/` : "";
  for (const e of list) {
    const name = pre + e.name;
    if (e.symlink !== undefined) archive.symlink(name, e.symlink, e.mode ?? 0o777);
    else if (e.dir) archive.append("", { name: name.endsWith("/") ? name : name + "/", mode: e.mode ?? 0o755 });
    else archive.append(e.content ?? "", { name, mode: e.mode ?? 0o644 });
  }
  await archive.finalize();
  await done;
  const buf = await fsp.readFile(file);
  return { sha256: crypto.createHash("sha256").update(buf).digest("hex"), size: buf.length };
}

export function treeToEntries(spec: TreeSpec): ZipEntry[] {
  return Object.entries(spec).map(([name, e]) => {
    if (typeof e === "string" || Buffer.isBuffer(e)) return { name, content: e };
    if ("symlink" in e) return { name, symlink: e.symlink };
    if ("dir" in e) return { name, dir: true, ...(e.mode !== undefined ? { mode: e.mode } : {}) };
    return { name, content: e.content, ...(e.mode !== undefined ? { mode: e.mode } : {}) };
  });
}

export interface FeedRelease {
  version: string;
  tree?: TreeSpec;
  zip?: string;
  channel?: "stable" | "testing";
  changelog?: string;
  requires?: Record<string, unknown>;
  conflicts?: unknown[];
  omitSha?: boolean;
  badSha?: boolean;
  wrap?: string;
  extra?: Record<string, unknown>;
}

/**
 * Write release zips and a native releases.json into `dir`. Each release's
 * zip is `grav-update-<v>.zip` (built from `tree`, default releaseTree(v)).
 * Returns the feed file's path.
 */
export async function makeFeed(dir: string, releases: FeedRelease[]): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  const out = [];
  for (const r of releases) {
    const zipName = r.zip ?? `grav-update-${r.version}.zip`;
    const { sha256, size } = await makeZip(path.join(dir, zipName), r.tree ?? releaseTree(r.version), r.wrap ? { wrap: r.wrap } : {});
    out.push({
      version: r.version,
      url: zipName,
      ...(r.omitSha ? {} : { sha256: r.badSha ? "0".repeat(64) : sha256 }),
      size,
      date: "2025-10-17",
      channel: r.channel ?? "stable",
      changelog: r.changelog ?? `* changes in ${r.version}`,
      ...(r.requires ? { requires: r.requires } : {}),
      ...(r.conflicts ? { conflicts: r.conflicts } : {}),
      ...r.extra,
    });
  }
  const feed = path.join(dir, "releases.json");
  await fsp.writeFile(feed, JSON.stringify({ releases: out }, null, 2));
  return feed;
}

export interface Server {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

/** Serve the files of `dir` on 127.0.0.1 (random port). `routes` override paths with fixed responses. */
export async function serveDir(dir: string, routes: Record<string, { status?: number; body?: string | Buffer; headers?: Record<string, string> }> = {}): Promise<Server> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push(url.pathname);
    const r = routes[url.pathname];
    if (r) {
      res.writeHead(r.status ?? 200, r.headers ?? {});
      res.end(r.body ?? "");
      return;
    }
    const file = path.join(dir, decodeURIComponent(url.pathname));
    if (!file.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) {
        res.writeHead(404).end("not found");
        return;
      }
      res.writeHead(200, { "content-length": String(st.size) });
      fs.createReadStream(file).pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the real CLI (`bin/gpm`) as a child process. */
export function runGpm(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GPM_BIN, ...args], {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, GPM_ROOT: undefined, ...opts.env } as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 90_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      // Every --json output of every e2e test is checked against docs/schema (test/helpers/json.ts).
      try {
        checkJsonRun(args, { code, stdout });
      } catch (err) {
        reject(err as Error);
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

export interface TreeEntryInfo {
  type: "file" | "dir" | "link";
  mode: number;
  hash?: string;
  target?: string;
}

/** A file name's bytes as a key: itself when it is UTF-8, else `<0x…>` with its hex (so a Latin-1 name is seen, not mangled). */
export function nameKey(b: Buffer): string {
  const s = b.toString("utf8");
  return Buffer.from(s, "utf8").equals(b) ? s : `<0x${b.toString("hex")}>`;
}

/**
 * Everything below `dir` (links not followed): type, mode and content hash or
 * link target. Names are read as bytes, so names that are not UTF-8 are
 * compared byte for byte too.
 */
export async function treeState(dir: string, opts: { exclude?: (rel: string) => boolean } = {}): Promise<Record<string, TreeEntryInfo>> {
  const out: Record<string, TreeEntryInfo> = {};
  const walk = async (rel: string, at: Buffer): Promise<void> => {
    const names = (await fsp.readdir(at, { encoding: "buffer" })).sort(Buffer.compare);
    for (const name of names) {
      const r = rel ? `${rel}/${nameKey(name)}` : nameKey(name);
      if (opts.exclude?.(r)) continue;
      const p = Buffer.concat([at, Buffer.from("/"), name]);
      const st = await fsp.lstat(p);
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) out[r] = { type: "link", mode: 0, target: nameKey(await fsp.readlink(p, { encoding: "buffer" })) };
      else if (st.isDirectory()) {
        out[r] = { type: "dir", mode };
        await walk(r, p);
      } else out[r] = { type: "file", mode, hash: crypto.createHash("sha256").update(await fsp.readFile(p)).digest("hex") };
    }
  };
  await walk("", Buffer.from(dir));
  return out;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON documents under test
type Doc = Record<string, any>;

/** The real CLI bound to one site and feed: `gpm(...)` runs it, `json(...)` adds --json and checks the document's exitCode is the process's. */
export function cliAt(root: string, feed: string): { gpm: (...a: string[]) => Promise<RunResult>; json: (...a: string[]) => Promise<Doc> } {
  const gpm = (...a: string[]): Promise<RunResult> => runGpm([...a, "--root", root, "--feed", feed]);
  const json = async (...a: string[]): Promise<Doc> => {
    const r = await gpm(...a, "--json");
    const doc = JSON.parse(r.stdout) as Doc;
    if (doc.exitCode !== r.code) throw new Error(`exitCode ${String(doc.exitCode)} in the JSON, ${String(r.code)} from the process: ${r.stderr}`);
    return doc;
  };
  return { gpm, json };
}

/** One hash of a whole tree (for "byte for byte" assertions). */
export async function treeHash(dir: string, opts: { exclude?: (rel: string) => boolean } = {}): Promise<string> {
  return crypto.createHash("sha256").update(JSON.stringify(await treeState(dir, opts))).digest("hex");
}

/** Exclude gpm's own bookkeeping (snapshots/, .gpm/) from a tree comparison. */
export const notGpmState = (rel: string): boolean => rel === "snapshots" || rel.startsWith("snapshots/") || rel === ".gpm" || rel.startsWith(".gpm/");

/**
 * For the tests of the calling describe(): a tmpfs of `size` (e.g. "5m"),
 * mounted before them and unmounted after, to fill a disk for real. Where
 * mounting is not allowed they are skipped, saying why. Returns the mount
 * point (read it inside hooks and tests).
 */
export function useTmpfs(size: string): () => string {
  let mnt = "";
  let mounted = false;
  before(async function () {
    mnt = path.join(await tmpDir("gpm-tmpfs-"), "mnt");
    await fsp.mkdir(mnt);
    try {
      await promisify(execFile)("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt]);
      mounted = true;
    } catch (err) {
      console.log(`      skipped: cannot mount a tmpfs here: ${(err as Error).message.split("\n")[0]}`);
      this.skip();
    }
  });
  after(async () => {
    if (mounted) await promisify(execFile)("umount", [mnt]);
  });
  return () => mnt;
}
