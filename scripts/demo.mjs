#!/usr/bin/env node
/**
 * `npm run demo`: a guided tour of gpm on a throw-away Grav-like site.
 *
 * Builds, in a fresh temp folder, a site at 1.7.48 (core, user content, a
 * plugin, cache, a site-owner file: a few hundred files) and the releases
 * 1.8.0, 1.8.1 and a broken 1.8.2, serves the feeds and zips on 127.0.0.1,
 * then runs the REAL CLI (bin/gpm, one child process per step, stderr
 * inherited so progress bars show on a TTY) through status, check, preflight,
 * upgrade, snapshots, verify, rollback, redo and a failing upgrade. Every
 * step's exit code and the installed version after it are checked; the
 * process exits 0 only if all of them are what they should be.
 *
 * Needs nothing but Node and `npm ci` (the fixtures come from dist/test):
 * no php (the smoke check is a node script the releases ship), no network
 * but loopback.
 *
 *   node scripts/demo.mjs [--clean]   --clean removes the temp folder at the end
 *                                     (it is kept anyway when a step failed)
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const GPM_BIN = path.join(REPO, "bin", "gpm");
const FIXTURES = path.join(REPO, "dist", "test", "helpers", "fixtures.js");

if (!fs.existsSync(FIXTURES) || !fs.existsSync(path.join(REPO, "dist", "lib", "cli", "main.js"))) {
  console.error("demo: dist/ is missing; run `npm run build` first (or `npm run demo`, which builds)");
  process.exit(1);
}
const { makeSite, makeFeed, serveDir, releaseTree, treeHash, notGpmState } = await import(FIXTURES);

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--clean");
if (unknown.length) {
  console.error(`demo: unknown argument ${unknown.join(" ")} (usage: node scripts/demo.mjs [--clean])`);
  process.exit(2);
}
const clean = args.includes("--clean");

const tty = Boolean(process.stdout.isTTY);
const paint = (code) => (s) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint("1");
const dim = paint("2");
const green = paint("32");
const red = paint("31");
const cyan = paint("36");

// ---------------------------------------------------------------- the releases

/**
 * What differs between versions, so that every upgrade adds, changes and
 * drops files: each module lives in [since, until) (until excluded).
 */
const MODULES = [
  { name: "Common", files: 160, since: "1.7.48" },
  { name: "Framework", files: 120, since: "1.7.48" },
  { name: "Legacy", files: 40, since: "1.7.48", until: "1.8.0" },
  { name: "Flex", files: 60, since: "1.8.0" },
  { name: "Twig", files: 30, since: "1.7.48", until: "1.8.1" },
  { name: "Mcp", files: 25, since: "1.8.1" },
];
const VENDOR = ["symfony/yaml", "symfony/console", "twig/twig", "monolog/monolog", "guzzlehttp/psr7", "league/climate", "doctrine/cache", "rockettheme/toolbox"];
const ORDER = ["1.7.48", "1.8.0", "1.8.1", "1.8.2"];
const has = (v, m) => ORDER.indexOf(v) >= ORDER.indexOf(m.since) && (m.until === undefined || ORDER.indexOf(v) < ORDER.indexOf(m.until));

/** Deterministic bytes (the same release zip every run), incompressible like real images and fonts. */
function pseudoRandom(seed, size) {
  const out = Buffer.alloc(size);
  for (let off = 0, n = 0; off < size; off += 64, n++) crypto.createHash("sha512").update(`${seed}:${n}`).digest().copy(out, off);
  return out;
}

/** The core files of a release at `version` beyond the small base tree of the fixtures. */
function coreExtras(version) {
  const t = {};
  for (const m of MODULES.filter((x) => has(version, x))) {
    for (let i = 0; i < m.files; i++) {
      // One file in four changes with every release; the rest only when its module comes or goes.
      const stamp = i % 4 === 0 ? ` (${version})` : "";
      t[`system/src/Grav/${m.name}/Class${String(i).padStart(3, "0")}.php`] =
        `<?php\nnamespace Grav\\${m.name};\n\n/** ${m.name} class ${i}${stamp} */\nclass Class${i}\n{\n    public function run(): string { return '${m.name}-${i}'; }\n}\n`;
    }
  }
  for (const [k, pkg] of VENDOR.entries()) {
    for (let i = 0; i < 20; i++) t[`vendor/${pkg}/src/File${i}.php`] = `<?php // ${pkg} file ${i}, built for ${version.startsWith("1.7") ? "1.7" : "1.8"}\n`;
    t[`vendor/${pkg}/composer.json`] = JSON.stringify({ name: pkg, version: `${k + 1}.${version.startsWith("1.7") ? 0 : 1}.0` });
  }
  // A couple of bigger binary assets, so the download and extract bars have something to show.
  t["system/assets/grav-bundle.js"] = pseudoRandom(`bundle-${version}`, 3 << 20);
  t["system/assets/fonts/fontawesome.woff2"] = pseudoRandom("font", 1 << 20);
  return t;
}

function gravRelease(version, opts = {}) {
  return releaseTree(version, { ...opts, extra: coreExtras(version) });
}

/** The site owner's part: pages, images, a theme, accounts, compiled cache. */
function userContent() {
  const t = {};
  for (let i = 1; i <= 80; i++) {
    const slug = `${String(i).padStart(2, "0")}.post-${i}`;
    t[`user/pages/02.blog/${slug}/item.md`] = `---\ntitle: Post ${i}\ndate: 2025-0${(i % 9) + 1}-1${i % 10}\n---\n\n${"Lorem ipsum dolor sit amet. ".repeat(20 + (i % 30))}\n`;
    if (i % 4 === 0) t[`user/pages/02.blog/${slug}/cover.jpg`] = pseudoRandom(`img-${i}`, 48 << 10);
  }
  for (let i = 0; i < 24; i++) t[`user/themes/quark/templates/partial-${i}.html.twig`] = `{# quark partial ${i} #}\n<div>{{ page.title }}</div>\n`;
  t["user/themes/quark/blueprints.yaml"] = "name: Quark\nversion: 2.0.4\n";
  for (let i = 0; i < 60; i++) t[`cache/twig/${String(i).padStart(2, "0")}/compiled-${i}.php`] = `<?php // compiled template ${i}\n`;
  t["user/config/plugins/myplugin.yaml"] = "enabled: true\n";
  return t;
}

// ---------------------------------------------------------------- running gpm

/**
 * One step: a banner, then `gpm <argv> --root <site> --feed <feed>` as a
 * child. stderr (logs, progress bars) goes straight to the terminal; stdout
 * is passed through as it comes and also kept (rollback prints its downtime).
 */
function runGpm(argv, { root, feed }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const env = { ...process.env };
    delete env.GPM_ROOT;
    const child = spawn(process.execPath, [GPM_BIN, ...argv, "--root", root, "--feed", feed], { cwd: REPO, env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), signal, stdout: out, seconds: (performance.now() - t0) / 1000 }));
  });
}

async function readJson(file) {
  try {
    return JSON.parse(await fsp.readFile(file, "utf8"));
  } catch {
    return null;
  }
}

/** What the application itself would report: GRAV_VERSION in system/defines.php. */
async function appVersion(root) {
  const src = await fsp.readFile(path.join(root, "system", "defines.php"), "utf8").catch(() => "");
  return /GRAV_VERSION',\s*'([^']+)'/.exec(src)?.[1] ?? null;
}

async function manifests(root) {
  const dir = path.join(root, "snapshots");
  const names = await fsp.readdir(dir).catch(() => []);
  const all = [];
  for (const n of names) {
    const m = await readJson(path.join(dir, n, "manifest.json"));
    if (m) all.push(m);
  }
  return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

async function countFiles(dir) {
  let n = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) if (!e.isDirectory()) n++;
  return n;
}

// ---------------------------------------------------------------- the tour

const t0 = performance.now();
const base = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), "gpm-demo-")));
const root = path.join(base, "site");
const feedDir = path.join(base, "feed");

console.log(bold("gpm demo") + dim(" — transactional upgrades of a Grav-like site"));
console.log(dim(`building a site at 1.7.48 and releases 1.8.0, 1.8.1, 1.8.2 in ${base} …`));

await makeSite(root, "1.7.48", { extra: { ...coreExtras("1.7.48"), ...userContent() } });
await fsp.writeFile(path.join(root, "owner-notes.txt"), "Site owner's own file at the top level: gpm leaves it alone.\n");
// Every feed lists the three releases; releases.json (the one in use until the
// last step) stops at 1.8.1, releases-next.json adds the broken 1.8.2.
await makeFeed(feedDir, [
  { version: "1.8.0", tree: gravRelease("1.8.0"), changelog: "* Flex objects\n* drops the Legacy API" },
  { version: "1.8.1", tree: gravRelease("1.8.1"), changelog: "* MCP endpoints\n* drops the old Twig extensions" },
  { version: "1.8.2", tree: gravRelease("1.8.2", { smokeExit: 1 }), changelog: "* a release whose smoke check fails" },
]);
const full = JSON.parse(await fsp.readFile(path.join(feedDir, "releases.json"), "utf8"));
await fsp.writeFile(path.join(feedDir, "releases-next.json"), JSON.stringify(full, null, 2));
await fsp.writeFile(path.join(feedDir, "releases.json"), JSON.stringify({ releases: full.releases.filter((r) => r.version !== "1.8.2") }, null, 2));

const server = await serveDir(feedDir);
const feed = `${server.url}/releases.json`;
const nextFeed = `${server.url}/releases-next.json`;
const siteFiles = await countFiles(root);
console.log(dim(`site: ${siteFiles} files; feed: ${feed}`));
console.log(dim(`every command below runs as: bin/gpm <command> --root ${root} --feed <feed>`));

/** The steps: what to run, why, the exit code it must give and the version live after it. */
const steps = [
  { argv: ["status"], why: "An unmanaged Grav site at 1.7.48: gpm reads the version from system/defines.php.", expect: 0, live: "1.7.48" },
  { argv: ["self-upgrade", "--check"], why: "What is available, and the changelog in between. Changes nothing.", expect: 0, live: "1.7.48" },
  { argv: ["preflight"], why: "Every check of the upgrade to the latest release, without changing anything.", expect: 0, live: "1.7.48" },
  {
    argv: ["self-upgrade"],
    why: "Upgrade to the latest (1.8.1): download, verify, extract and copy user/ into snapshots/<id>/,\nthen swap the core entries under the maintenance flag, run the smoke check, finalize.",
    expect: 0,
    live: "1.8.1",
  },
  { argv: ["snapshots"], why: "The snapshot holds the whole 1.7.48 tree (previous/ and user/).", expect: 0, live: "1.8.1" },
  { argv: ["verify"], why: "The live core files against the hashes recorded at upgrade time.", expect: 0, live: "1.8.1" },
  { argv: ["rollback"], why: "Back to 1.7.48: a swap with the snapshot; the 1.8.1 tree goes into the snapshot.", expect: 0, live: "1.7.48", rollback: true },
  { argv: ["status"], why: "1.7.48 is live again; the snapshot is now 'swapped'.", expect: 0, live: "1.7.48" },
  { argv: ["rollback", "<id>"], why: "The same snapshot id again is a redo: 1.8.1 goes live again.", expect: 0, live: "1.8.1", rollback: true },
  {
    argv: ["self-upgrade"],
    feed: nextFeed,
    why: "The publisher ships 1.8.2, whose smoke check fails: gpm swaps it in, the check fails,\nthe 1.8.1 tree is restored by file operations alone, exit 4.",
    expect: 4,
    live: "1.8.1",
    sameTree: true,
  },
  { argv: ["status"], why: "1.8.1 still live, nothing pending, no maintenance or recovery flag.", expect: 0, live: "1.8.1" },
  { argv: ["snapshots"], why: "The failed attempt is kept as a 'restored' manifest (it says why in smoke.output).", expect: 0, live: "1.8.1" },
];

const results = [];
let failure = null;
let upgradeId = null;
const rollbackDowntimes = [];
for (const [i, s] of steps.entries()) {
  const argv = s.argv.map((a) => (a === "<id>" ? upgradeId : a));
  console.log("");
  console.log(cyan(bold(`━━ ${i + 1}/${steps.length}  gpm ${argv.join(" ")}`)) + (s.feed ? dim("   (feed: releases-next.json)") : ""));
  for (const line of s.why.split("\n")) console.log(dim(`   ${line}`));
  console.log("");
  const before = s.sameTree ? await treeHash(root, { exclude: notGpmState }) : null;
  const r = await runGpm(argv, { root, feed: s.feed ?? feed });
  const live = await appVersion(root);
  const meta = await readJson(path.join(root, ".gpm", "metadata.json"));
  const problems = [];
  if (r.code !== s.expect) problems.push(`exit ${r.code}${r.signal ? ` (${r.signal})` : ""}, expected ${s.expect}`);
  if (live !== s.live) problems.push(`system/defines.php says ${live ?? "(none)"}, expected ${s.live}`);
  if (meta && meta.installation_version !== s.live) problems.push(`.gpm/metadata.json says ${meta.installation_version}, expected ${s.live}`);
  if (before !== null && (await treeHash(root, { exclude: notGpmState })) !== before) problems.push("the site is not byte for byte what it was before the failed upgrade");
  if (s.rollback) {
    const ms = /downtime (\d+) ms/.exec(r.stdout)?.[1];
    rollbackDowntimes.push({ to: live, ms: ms === undefined ? null : Number(ms) });
  }
  if (argv[0] === "self-upgrade" && argv.length === 1 && upgradeId === null) upgradeId = (await manifests(root)).find((m) => m.status === "finalized")?.id ?? null;
  results.push({ step: i + 1, cmd: `gpm ${argv.join(" ")}`, expect: s.expect, code: r.code, seconds: r.seconds, live, ok: problems.length === 0 });
  const mark = problems.length ? red("✗ " + problems.join("; ")) : green(`✓ exit ${r.code} as expected`);
  console.log(`   ${mark} ${dim(`(${r.seconds.toFixed(2)} s, ${live} live)`)}`);
  if (problems.length) {
    failure = `step ${i + 1} (gpm ${argv.join(" ")}): ${problems.join("; ")}`;
    break;
  }
}
await server.close();

// ---------------------------------------------------------------- summary

const all = await manifests(root);
const fmtMs = (ms) => (ms === null || ms === undefined ? "—" : `${ms} ms`);
console.log("");
console.log(bold("Summary"));
console.log(`  steps      ${results.filter((r) => r.ok).length}/${steps.length} as expected, ${((performance.now() - t0) / 1000).toFixed(1)} s in all`);
for (const r of results) console.log(dim(`             ${String(r.step).padStart(2)}. ${r.cmd.padEnd(48)} exit ${r.code} (expected ${r.expect})  ${r.seconds.toFixed(2)} s  → ${r.live}`));
console.log(`  versions   ${results.map((r) => r.live).filter((v, i, a) => i === 0 || v !== a[i - 1]).join(" → ")}${all.some((m) => m.status === "restored") ? " (1.8.2 failed its smoke check; 1.8.1 restored)" : ""}`);
for (const m of all) {
  const t = m.timings ?? {};
  const phases = ["download", "verify", "extract", "snapshot", "flush", "plan", "journal", "swap", "smoke", "restore", "finalize"].filter((k) => t[k] !== undefined).map((k) => `${k} ${t[k]}`);
  console.log(`  ${m.id}  ${m.from} → ${m.to}  ${m.status}`);
  console.log(dim(`             downtime ${fmtMs(m.downtimeMs)}; ${m.files?.count ?? "?"} files; timings (ms): ${phases.join(", ")}`));
  if (m.error) console.log(dim(`             error: ${m.error}`));
}
for (const d of rollbackDowntimes) console.log(`  swap       to ${d.to}: downtime ${fmtMs(d.ms)} ${dim("(from the rollback output)")}`);
if (clean && !failure) {
  await fsp.rm(base, { recursive: true, force: true });
  console.log(`  temp       ${base} (removed: --clean)`);
} else {
  console.log(`  temp       ${base} ${dim(`(kept${failure && clean ? " because a step failed" : ""}; remove with: rm -rf ${base})`)}`);
  console.log(dim(`             try more: bin/gpm status --root ${root}`));
}
if (failure) {
  console.error(red(bold(`\ndemo FAILED at ${failure}`)));
  process.exit(1);
}
console.log(green(bold("\ndemo passed: every step gave the expected exit code")));
