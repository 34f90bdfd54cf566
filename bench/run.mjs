#!/usr/bin/env node
/**
 * `npm run bench`: how long a real upgrade takes, how long the site is down,
 * how long a rollback takes and how much memory gpm needs, for a small
 * (~2,000 files) and a large (~20,000 files, ~300 MB) release, against a
 * baseline of what any upgrade has to do at least (`unzip` the release and
 * `cp -a` user/).
 *
 * Everything happens under bench/work/ (git-ignored): the release zips are
 * built once and cached in bench/work/cache/ (keyed by their spec), the site
 * is rebuilt for every run and removed afterwards (--keep keeps it). The feed
 * is given to gpm as a file path, so "download" is a local file copy; then
 * the same rounds again with the feed and zip served over loopback HTTP by
 * a node server in this process (the baseline fetches the zip with `curl`). Targets are reported pass/fail; missing one does not
 * fail the process (a broken gpm run does). Each size also has a start-up
 * row (`node -e 0`, `gpm version`, `gpm status`, min of 10 each) and the
 * swap window (manifest swapMs); targets are issue 14's (bench/lib/report.mjs). Results go to bench/RESULTS.md
 * (bench/work/RESULTS.md when only some sizes ran).
 *
 *   node bench/run.mjs [--sizes 2k,20k] [--rounds N] [--keep]
 *
 * --rounds N overrides the rounds per size (default 3 for 2k, 2 for 20k, 1 for 200k).
 * The 200k size (200,000 files, ~3 GB) needs ~24 GiB free under bench/work/
 * while it runs and ~10 minutes; it is skipped, said in the report, when the
 * disk has less.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { releaseFiles, userFiles, cacheFiles, writeFiles, zipDir } from "./lib/generate.mjs";
import { REPO, GPM_BIN, run, mustRun, onPath, settle, gpm } from "./lib/measure.mjs";
import { TARGETS, evaluate, renderMarkdown, renderConsole } from "./lib/report.mjs";

/** Bump when the generator changes, so cached zips are rebuilt. */
const GENERATOR = 1;
const MiB = 1 << 20;
const USER = { smallFiles: 1900, images: 100, imageBytes: 430 << 10, seed: 3 };
const SIZES = {
  "2k": { release: { smallFiles: 1995, largeFiles: 5, largeBytes: 4 * MiB }, user: USER, cache: 500, rounds: 3 },
  "20k": { release: { smallFiles: 19950, largeFiles: 50, largeBytes: 4 * MiB }, user: USER, cache: 500, rounds: 2 },
  // Issue 14: does it scale? 10x the 20k release (~3 GB): one round, no HTTP rounds (the download's
  // speed is judged at 20k), the release generated for the run and deleted after (--keep keeps it).
  "200k": { release: { smallFiles: 199500, largeFiles: 500, largeBytes: 4 * MiB }, user: USER, cache: 500, rounds: 1, http: false, cacheRelease: false, needsGiB: 24,
    // Past the defaults (200,000 files, 2 GiB unpacked, 1 GiB download), as a site with such a release would set them.
    limits: { maxFiles: 400_000, maxUnpackedBytes: 8 * 1024 * MiB, maxDownloadBytes: 8 * 1024 * MiB } },
};
const FROM = "1.7.48";
const TO = "1.8.0";

function parseArgs(argv) {
  const o = { sizes: Object.keys(SIZES), keep: false, rounds: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--keep") o.keep = true;
    else if (a === "--sizes" && argv[i + 1]) o.sizes = argv[++i].split(",");
    else if (a.startsWith("--sizes=")) o.sizes = a.slice(8).split(",");
    else if (a === "--rounds" && /^[1-9]\d*$/.test(argv[i + 1] ?? "")) o.rounds = Number(argv[++i]);
    else throw new Error(`unknown argument ${a} (usage: node bench/run.mjs [--sizes 2k,20k] [--rounds N] [--keep])`);
  }
  for (const s of o.sizes) if (!SIZES[s]) throw new Error(`unknown size ${s} (known: ${Object.keys(SIZES).join(", ")})`);
  return o;
}

const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

/**
 * Nothing is deleted while measuring: on ext4 without a journal (as on the
 * machine these figures come from) a file created within 60 s of a mass
 * deletion (360 s if the inode tables are not yet written back) makes the
 * kernel step over every recently freed inode (ext4 recently_deleted()),
 * which made unzip and gpm alike 2-3x slower, depending on what ran just
 * before. Whatever a measurement leaves behind is renamed into work/trash/
 * and deleted at the very end.
 */
let trashCount = 0;
async function trash(work, p) {
  if (!fs.existsSync(p)) return;
  const dir = path.join(work, "trash");
  await fsp.mkdir(dir, { recursive: true });
  await fsp.rename(p, path.join(dir, `${++trashCount}-${path.basename(p)}`));
}

/** Before measuring: remove what an earlier run left, then wait out the kernel's 60 s (see trash()). */
async function clearLeftovers(work) {
  const old = fs.existsSync(work) ? (await fsp.readdir(work)).filter((n) => n === "trash" || n.startsWith("run-")) : [];
  if (old.length === 0) return;
  for (const n of old) await fsp.rm(path.join(work, n), { recursive: true, force: true });
  await settle();
  log(`removed an earlier run's ${old.join(", ")}; waiting 65 s so that freed inodes do not slow the first measurement`);
  await new Promise((resolve) => setTimeout(resolve, 65_000));
}
const since = (t0) => performance.now() - t0;

/** The release zip and its feed, built once per spec and cached. */
async function ensureRelease(work, name, spec) {
  const key = crypto.createHash("sha256").update(JSON.stringify({ GENERATOR, TO, spec: spec.release })).digest("hex").slice(0, 10);
  const dir = path.join(work, "cache", `${name}-${key}`);
  const ready = path.join(dir, "ready.json");
  if (fs.existsSync(ready)) return { dir, feed: path.join(dir, "releases.json"), ...JSON.parse(await fsp.readFile(ready, "utf8")) };
  await fsp.rm(dir, { recursive: true, force: true });
  const t0 = performance.now();
  log(`${name}: building the ${TO} release (${spec.release.smallFiles + spec.release.largeFiles} files), once`);
  const src = path.join(dir, "src");
  const files = releaseFiles(TO, { ...spec.release, seed: 2 });
  await writeFiles(src, files, { stamp: TO, seed: 2 });
  const zipName = `grav-update-${TO}.zip`;
  const zip = await zipDir(src, path.join(dir, zipName));
  await trash(work, src);
  const bytes = files.reduce((n, f) => n + (f.content !== undefined ? Buffer.byteLength(f.content) : f.size), 0);
  const feed = { releases: [{ version: TO, url: zipName, sha256: zip.sha256, size: zip.size, date: "2025-10-17", channel: "stable", changelog: "* benchmark release" }] };
  await fsp.writeFile(path.join(dir, "releases.json"), JSON.stringify(feed, null, 2));
  const info = { zip: path.join(dir, zipName), zipBytes: zip.size, files: files.length, bytes };
  await fsp.writeFile(ready, JSON.stringify(info, null, 2));
  log(`${name}: release built in ${(since(t0) / 1000).toFixed(1)} s (zip ${(zip.size / MiB).toFixed(0)} MiB)`);
  return { dir, feed: path.join(dir, "releases.json"), ...info };
}

/** A live site at FROM with the same layout as the release, a realistic user/ and a cache. */
async function buildSite(root, spec) {
  const core = releaseFiles(FROM, { ...spec.release, seed: 1 });
  const user = userFiles(spec.user);
  await writeFiles(root, core, { stamp: FROM, seed: 1 });
  await writeFiles(root, [...user, ...cacheFiles(spec.cache)], { stamp: "site", seed: 3 });
  await fsp.writeFile(path.join(root, "owner-notes.txt"), "the site owner's own file\n");
  // A trivial smoke check: downtime then measures the swap, not a PHP boot.
  await fsp.writeFile(path.join(root, "gpm.json"), JSON.stringify({ smokeCheck: null, ...(spec.limits ? { limits: spec.limits } : {}) }, null, 2));
  const userBytes = user.reduce((n, f) => n + (f.content !== undefined ? Buffer.byteLength(f.content) : f.size), 0);
  return { userFiles: user.length, userBytes };
}

/** A static file server on 127.0.0.1 for `dir` (the release's feed and zip). */
function serveDir(dir) {
  const server = http.createServer((req, res) => {
    const file = path.join(dir, path.basename(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)));
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-length": st.size, "content-type": file.endsWith(".json") ? "application/json" : "application/zip" });
      fs.createReadStream(file).pipe(res);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() })));
}

/** The least any upgrade must do: unpack the release and copy user/ (each timed on its own). */
async function baseline(work, dir, root, zip, url = null) {
  const cpuFile = path.join(dir, "time.txt");
  const b = { unzipMs: null, unzipCpuMs: null, cpMs: null, cpCpuMs: null, syncMs: null, curlMs: null };
  if (url !== null && (await onPath("curl"))) {
    // Fetched over HTTP like gpm's download, into the same folder gpm stages in.
    zip = path.join(dir, "baseline.zip");
    b.curlMs = (await mustRun(["curl", "-s", "-f", "-o", zip, url])).ms;
  }
  if (await onPath("unzip")) {
    const r = await mustRun(["unzip", "-q", zip, "-d", path.join(dir, "baseline-unzip")], { cpuFile });
    b.unzipMs = r.ms;
    b.unzipCpuMs = r.cpuMs;
  }
  const r = await mustRun(["cp", "-a", path.join(root, "user"), path.join(dir, "baseline-user")], { cpuFile });
  b.cpMs = r.ms;
  b.cpCpuMs = r.cpuMs;
  b.syncMs = (await run(["sync"])).ms;
  await trash(work, path.join(dir, "baseline-unzip"));
  await trash(work, path.join(dir, "baseline-user"));
  if (url !== null) await trash(work, path.join(dir, "baseline.zip"));
  await settle();
  return b;
}

/**
 * One size: build the site once, then `rounds` rounds of baseline,
 * self-upgrade, rollback, redo (and a rollback back to FROM between rounds,
 * one more swap sample). The figures reported are each one's best round: on a
 * shared machine the minimum is the best estimate of what gpm itself costs.
 */
async function benchSize(work, name, spec, opts) {
  const rel = await ensureRelease(work, name, spec);
  const dir = path.join(work, `run-${name}`);
  const root = path.join(dir, "site");
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(root, { recursive: true });
  const t0 = performance.now();
  const site = await buildSite(root, spec);
  log(`${name}: site at ${FROM} written in ${(since(t0) / 1000).toFixed(1)} s`);
  await settle();

  const common = ["--root", root, "--feed", rel.feed];
  const rssFile = path.join(dir, "rss.json");
  const rounds = [];
  const swaps = [];
  const statuses = [];
  for (let i = 1; i <= spec.rounds; i++) {
    const base = await baseline(work, dir, root, rel.zip);
    statuses.push(await gpm(["status", ...common], { rssFile }));
    const up = await gpm(["self-upgrade", ...common], { rssFile });
    const id = up.doc?.id;
    const m = JSON.parse(await fsp.readFile(path.join(root, "snapshots", id, "manifest.json"), "utf8"));
    await settle();
    const back = await gpm(["rollback", ...common], { rssFile });
    await settle();
    const redo = await gpm(["rollback", id, ...common], { rssFile });
    await settle();
    swaps.push({ kind: "rollback", ...back }, { kind: "redo", ...redo });
    if (i < spec.rounds) {
      swaps.push({ kind: "rollback", ...(await gpm(["rollback", ...common], { rssFile })) });
      await settle();
    }
    rounds.push({ base, up, manifest: { id, files: m.files, timings: m.timings, downtimeMs: m.downtimeMs, swapMs: m.swapMs ?? null } });
    log(
      `${name} round ${i}/${spec.rounds}: baseline ${fmtS(base.unzipMs)} + ${fmtS(base.cpMs)}; self-upgrade ${fmtS(up.ms)}, downtime ${m.downtimeMs} ms; ` +
        `rollback ${fmtS(back.ms)} (${back.doc?.downtimeMs} ms down), redo ${fmtS(redo.ms)} (${redo.doc?.downtimeMs} ms down)`,
    );
  }
  // The same release over loopback HTTP (issue 14): gpm fetches feed and zip from a node server; the baseline fetches the zip with curl.
  const httpRounds = [];
  const server = spec.http === false ? null : await serveDir(rel.dir);
  const httpFeed = `${server?.url}/releases.json`;
  try {
    for (let i = 1; server !== null && i <= spec.rounds; i++) {
      swaps.push({ kind: "rollback", ...(await gpm(["rollback", ...common], { rssFile })) });
      await settle();
      const base = await baseline(work, dir, root, rel.zip, `${server.url}/${path.basename(rel.zip)}`);
      const up = await gpm(["self-upgrade", "--root", root, "--feed", httpFeed], { rssFile });
      const m = JSON.parse(await fsp.readFile(path.join(root, "snapshots", up.doc?.id, "manifest.json"), "utf8"));
      await settle();
      httpRounds.push({ base, up, manifest: { id: up.doc?.id, timings: m.timings, downtimeMs: m.downtimeMs, swapMs: m.swapMs ?? null } });
      log(`${name} HTTP round ${i}/${spec.rounds}: baseline curl ${fmtS(base.curlMs)} + unzip ${fmtS(base.unzipMs)} + cp ${fmtS(base.cpMs)}; self-upgrade ${fmtS(up.ms)}, downtime ${m.downtimeMs} ms`);
    }
  } finally {
    server?.close();
  }
  const startup = await startupRow(common, rssFile);
  log(`${name} start-up (min of ${STARTUP_RUNS}): node -e 0 ${fmtS(startup.node.ms)}, gpm version ${fmtS(startup.version.ms)}, gpm status ${fmtS(startup.status.ms)}`);
  if (!opts.keep) await trash(work, dir);
  if (spec.cacheRelease === false && !opts.keep) await trash(work, rel.dir);

  const best = rounds.reduce((a, r) => (r.up.ms < a.up.ms ? r : a));
  const minOf = (xs) => (xs.some((x) => x === null) ? null : Math.min(...xs));
  const bestSwap = (kind) => {
    const xs = swaps.filter((x) => x.kind === kind);
    return { ms: minOf(xs.map((x) => x.ms)), cpuMs: minOf(xs.map((x) => x.cpuMs)), downtimeMs: minOf(xs.map((x) => x.doc?.downtimeMs ?? null)), rssMB: Math.max(...xs.map((x) => x.rssMB ?? 0)), samples: xs.length };
  };
  return {
    name,
    rounds: rounds.length,
    release: { files: rel.files, bytes: rel.bytes, zipBytes: rel.zipBytes },
    user: { files: site.userFiles, bytes: site.userBytes },
    manifest: best.manifest,
    baseline: Object.fromEntries(["unzipMs", "unzipCpuMs", "cpMs", "cpCpuMs", "syncMs"].map((k) => [k, minOf(rounds.map((r) => r.base[k]))])),
    upgrade: {
      ms: best.up.ms,
      cpuMs: minOf(rounds.map((r) => r.up.cpuMs)),
      rssMB: Math.max(...rounds.map((r) => r.up.rssMB ?? 0)),
      all: rounds.map((r) => r.up.ms),
      downtimes: rounds.map((r) => r.manifest.downtimeMs),
    },
    rollback: bestSwap("rollback"),
    redo: bestSwap("redo"),
    http: httpRounds.length === 0 ? null : (() => {
      const b = httpRounds.reduce((a, r) => (r.up.ms < a.up.ms ? r : a));
      const key = ["curlMs", "unzipMs", "cpMs"];
      return { rounds: httpRounds.length, ms: b.up.ms, cpuMs: minOf(httpRounds.map((r) => r.up.cpuMs)), rssMB: Math.max(...httpRounds.map((r) => r.up.rssMB ?? 0)), all: httpRounds.map((r) => r.up.ms), manifest: b.manifest, baseline: Object.fromEntries(key.map((k) => [k, minOf(httpRounds.map((r) => r.base[k]))])) };
    })(),
    startup,
    status: { ms: minOf(statuses.map((x) => x.ms)), cpuMs: minOf(statuses.map((x) => x.cpuMs)), rssMB: Math.max(...statuses.map((x) => x.rssMB ?? 0)) },
  };
}

/**
 * Start-up, its own row: the whole process of `node -e 0` (the floor no
 * command can go under), `gpm version` and `gpm status`, min of
 * STARTUP_RUNS each (they are short, so noise on a shared machine is most of
 * a single figure).
 */
const STARTUP_RUNS = 10;
async function startupRow(common, rssFile) {
  const minRun = async (f) => {
    let best = null;
    for (let i = 0; i < STARTUP_RUNS; i++) {
      const x = await f();
      if (best === null || x.ms < best.ms) best = { ms: x.ms, cpuMs: x.cpuMs ?? null, rssMB: x.rssMB ?? null };
    }
    return best;
  };
  return {
    runs: STARTUP_RUNS,
    node: await minRun(() => mustRun([process.execPath, "-e", "0"])),
    version: await minRun(() => gpm(["version", ...common], { rssFile })),
    status: await minRun(() => gpm(["status", ...common], { rssFile })),
  };
}

const fmtS = (ms) => (ms === null ? "n/a" : `${(ms / 1000).toFixed(2)} s`);

async function machine(work, loadStart) {
  const fsType = (await run(["stat", "-f", "-c", "%T", work]).catch(() => null))?.stdout.trim() || "unknown";
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? "unknown",
    memGiB: os.totalmem() / 1024 ** 3,
    os: `${os.platform()} ${os.release()}`,
    node: process.version,
    fsType,
    work: path.relative(REPO, work) || work,
    asRoot: typeof process.getuid === "function" && process.getuid() === 0,
    // Other work on the machine shows up in every figure: say how busy it was.
    load: { start: loadStart, end: os.loadavg()[0] },
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(REPO, "dist", "lib", "cli", "main.js"))) throw new Error("dist/ is missing; run `npm run build` first (or `npm run bench`)");
  if (!fs.existsSync(GPM_BIN)) throw new Error(`${GPM_BIN} is missing`);
  const work = path.join(REPO, "bench", "work");
  await fsp.mkdir(work, { recursive: true });
  await clearLeftovers(work);
  const t0 = performance.now();
  const loadStart = os.loadavg()[0];
  const results = [];
  const skipped = [];
  for (const name of opts.sizes) {
    const spec = SIZES[name];
    const freeGiB = (await fsp.statfs(work).then((st) => (st.bavail * st.bsize) / 1024 ** 3));
    if (spec.needsGiB && freeGiB < spec.needsGiB) {
      skipped.push(`${name}: skipped, ${freeGiB.toFixed(0)} GiB free under ${path.relative(REPO, work)} and it needs ${spec.needsGiB} GiB`);
      log(skipped.at(-1));
      continue;
    }
    results.push(await benchSize(work, name, { ...spec, rounds: opts.rounds ?? spec.rounds }, opts));
  }
  const m = await machine(work, loadStart);
  const verdicts = evaluate(results);
  const md = renderMarkdown({ machine: m, results, verdicts, targets: TARGETS, seconds: since(t0) / 1000, skipped });
  // Only a run of every size replaces the committed report; a partial run goes to bench/work/.
  const full = Object.keys(SIZES).every((k) => opts.sizes.includes(k));
  const out = full ? path.join(REPO, "bench", "RESULTS.md") : path.join(work, "RESULTS.md");
  await fsp.writeFile(out, md);
  await fsp.rm(path.join(work, "trash"), { recursive: true, force: true });
  process.stdout.write(renderConsole({ machine: m, results, verdicts }) + "\n");
  log(`done in ${(since(t0) / 1000).toFixed(0)} s; written to ${path.relative(REPO, out)}`);
}

main().catch((err) => {
  process.stderr.write(`bench FAILED: ${err instanceof Error ? err.message : err}\n`);
  process.exit(1);
});
