import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, makeFeed, releaseTree, writeTree, treeState, treeHash, runGpm, notGpmState, type TreeSpec } from "../helpers/fixtures.js";
import { jsonDoc } from "../helpers/json.js";

/** Upgrade end to end through the real CLI, on real trees (issue 3). */

const CORE = ["bin", "composer.json", "index.php", "system", "vendor"];

async function readJsonFile<T>(p: string): Promise<T> {
  return JSON.parse(await fsp.readFile(p, "utf8")) as T;
}

/** The core entries of a release, written out as a folder to compare with. */
async function expectedCore(dir: string, tree: TreeSpec): Promise<Record<string, unknown>> {
  await writeTree(dir, tree);
  return treeState(dir, { exclude: (r) => !CORE.some((c) => r === c || r.startsWith(c + "/")) && !r.startsWith("newdir") });
}

describe("e2e: self-upgrade", function () {
  let base: string;
  let root: string;
  let feed: string;
  const v190: TreeSpec = releaseTree("1.9.0", { drop: ["CHANGELOG.md", "vendor/psr/log/composer.json"], extra: { "newdir/added.txt": "added in 1.9.0\n", "system/changed.txt": "changed\n" } });

  beforeEach(async () => {
    base = await tmpDir();
    root = path.join(base, "site");
    await makeSite(root, "1.7.48");
    feed = await makeFeed(path.join(base, "feed"), [{ version: "1.7.48" }, { version: "1.8.0" }, { version: "1.9.0", tree: v190 }]);
  });

  it("replaces the core byte for byte, drops what the new release dropped, keeps everything else, empties the cache", async () => {
    let r = await runGpm(["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /downtime \d+ ms maintenance on → off, smoke check included; swap \d+ ms the renames alone/);
    const userBefore = await treeState(path.join(root, "user"), { exclude: (p) => p.startsWith("data/upgrades") });
    const othersBefore = await treeState(root, { exclude: (p) => [...CORE, "user", "cache", "snapshots", ".gpm", "newdir", "CHANGELOG.md"].some((c) => p === c || p.startsWith(c + "/")) });
    await writeTree(root, { "cache/compiled/again.php": "<?php\n" });

    r = await runGpm(["self-upgrade", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = jsonDoc(r.stdout);
    assert.equal(out.ok, true);
    assert.equal(out.manifest.to, "1.9.0");
    assert.equal(out.manifest.status, "finalized");

    const want = await expectedCore(path.join(base, "expected"), v190);
    const got = await treeState(root, { exclude: (p) => !CORE.some((c) => p === c || p.startsWith(c + "/")) && !p.startsWith("newdir") });
    assert.deepEqual(got, want, "core equals the package");
    // CHANGELOG.md was core in 1.8.0 (its manifest says so) and 1.9.0 dropped it.
    await assert.rejects(fsp.lstat(path.join(root, "CHANGELOG.md")));
    await assert.rejects(fsp.lstat(path.join(root, "system/src/only-in-1.8.0.php")));
    assert.equal((await fsp.lstat(path.join(root, "bin/grav"))).mode & 0o777, 0o755, "modes from the archive");
    // Preserved and foreign entries untouched; user/ identical (records aside); the symlink still a link.
    assert.deepEqual(await treeState(path.join(root, "user"), { exclude: (p) => p.startsWith("data/upgrades") }), userBefore);
    assert.equal(await fsp.readlink(path.join(root, "user/home-link.md")), "pages/01.home/default.md");
    assert.deepEqual(await treeState(root, { exclude: (p) => [...CORE, "user", "cache", "snapshots", ".gpm", "newdir", "CHANGELOG.md"].some((c) => p === c || p.startsWith(c + "/")) }), othersBefore);
    assert.equal(await fsp.readFile(path.join(root, "robots.txt"), "utf8"), "User-agent: *\nDisallow: /private\n");
    assert.equal(await fsp.readFile(path.join(root, "owner-notes.txt"), "utf8"), "site owner file\n");
    assert.deepEqual(await fsp.readdir(path.join(root, "cache")), [], "cache emptied");
    // Metadata, records, flag.
    const meta = await readJsonFile<{ installation_version: string }>(path.join(root, ".gpm/metadata.json"));
    assert.equal(meta.installation_version, "1.9.0");
    await assert.rejects(fsp.lstat(path.join(root, ".upgrading")));
    await assert.rejects(fsp.lstat(path.join(root, ".gpm/journal.json")));
    const records = (await fsp.readdir(path.join(root, "user/data/upgrades"))).sort();
    const ids = ((await fsp.readdir(path.join(root, "snapshots"))).filter((n) => n !== ".htaccess")).filter((n) => n !== ".gitkeep").sort();
    assert.deepEqual(records, ids.map((i) => `${i}.json`));
    // The snapshot holds the whole prior tree, and nothing of the stage is left.
    const snap = path.join(root, "snapshots", out.manifest.id);
    assert.deepEqual((await fsp.readdir(path.join(snap, "previous"))).sort(), ["CHANGELOG.md", ...CORE].sort());
    assert.deepEqual((await fsp.readdir(snap)).sort(), ["files.json", "log.ndjson", "manifest.json", "previous", "user"]);
    const m = out.manifest;
    assert.ok(m.downtimeMs >= 0 && typeof m.timings.swap === "number" && typeof m.timings.download === "number");
    // Issue 11 item 7: downtime (maintenance on → off) is told apart from swapMs (the renames alone).
    assert.equal(out.swapMs, m.swapMs);
    assert.ok(typeof m.swapMs === "number" && m.swapMs <= m.downtimeMs, "the swap is part of the downtime");
    assert.deepEqual(m.core, ["CHANGELOG.md", ...CORE, "newdir"].sort());
  });

  it("a failing smoke check restores the tree byte for byte and exits 4", async () => {
    const bad = await makeFeed(path.join(base, "badfeed"), [{ version: "1.8.0", tree: releaseTree("1.8.0", { smokeExit: 3 }) }]);
    const before = await treeHash(root, { exclude: notGpmState });
    const r = await runGpm(["self-upgrade", "--root", root, "--feed", bad]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /error: smoke check `node bin\/check.mjs` exited 3: smoke 1\.8\.0; the previous tree was restored/);
    assert.equal(await treeHash(root, { exclude: notGpmState }), before);
    const [id] = ((await fsp.readdir(path.join(root, "snapshots"))).filter((n) => n !== ".htaccess")).filter((n) => n !== ".gitkeep");
    const m = await readJsonFile<{ status: string; error: string; smoke: { exitCode: number; output: string } }>(path.join(root, "snapshots", id!, "manifest.json"));
    assert.equal(m.status, "restored");
    assert.equal(m.smoke.exitCode, 3);
    assert.match(m.smoke.output, /smoke 1\.8\.0/);
    const st = await runGpm(["status", "--root", root, "--json"]);
    assert.equal(jsonDoc(st.stdout).installed, "1.7.48");
  });

  it("a failing postUpgrade undoes the swap and puts user/ back from the snapshot (exit 4)", async () => {
    const tree = releaseTree("1.8.0", { extra: { "bin/migrate.mjs": { content: "import fs from 'node:fs';\nfs.writeFileSync('user/config/site.yaml', 'clobbered\\n');\nfs.rmSync('user/pages', { recursive: true });\nprocess.exit(2);\n", mode: 0o755 } } });
    const f = await makeFeed(path.join(base, "pufeed"), [{ version: "1.8.0", tree }]);
    await fsp.writeFile(path.join(root, "gpm.json"), JSON.stringify({ smokeCheck: { command: ["node", "bin/check.mjs"] }, postUpgrade: ["node", "bin/migrate.mjs"] }));
    const before = await treeHash(root, { exclude: notGpmState });
    const r = await runGpm(["self-upgrade", "--root", root, "--feed", f]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /postUpgrade `node bin\/migrate.mjs` exited 2/);
    assert.equal(await treeHash(root, { exclude: notGpmState }), before);
  });

  it("same version: says so, exit 0, no manifest; older: exit 3 unless --allow-downgrade", async () => {
    let r = await runGpm(["self-upgrade", "--version", "1.7.48", "--root", root, "--feed", feed]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /1\.7\.48 is already installed; nothing to do/);
    assert.deepEqual(((await fsp.readdir(path.join(root, "snapshots")).catch(() => [])).filter((n) => n !== ".htaccess")).filter((n) => n !== ".gitkeep"), []);
    r = await runGpm(["self-upgrade", "--root", root, "--feed", feed]);
    assert.equal(r.code, 0, r.stderr);
    r = await runGpm(["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /1\.8\.0 is older than the installed 1\.9\.0 — pass --allow-downgrade/);
    r = await runGpm(["self-upgrade", "--version", "1.8.0", "--allow-downgrade", "--root", root, "--feed", feed]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await fsp.readFile(path.join(root, "system/defines.php"), "utf8"), /'1\.8\.0'/);
  });

  it("--check and --dry-run change nothing", async () => {
    const before = await treeHash(root);
    let r = await runGpm(["self-upgrade", "--check", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const c = jsonDoc(r.stdout);
    assert.equal(c.installed, "1.7.48");
    assert.equal(c.latest, "1.9.0");
    assert.deepEqual(c.releases.map((x: { version: string }) => x.version), ["1.8.0", "1.9.0"]);
    r = await runGpm(["self-upgrade", "--check", "--root", root, "--feed", feed]);
    assert.match(r.stdout, /installed 1\.7\.48, available 1\.9\.0[\s\S]*## 1\.8\.0[\s\S]*changes in 1\.8\.0[\s\S]*## 1\.9\.0/);
    assert.equal(await treeHash(root), before, "--check wrote nothing");
    r = await runGpm(["self-upgrade", "--dry-run", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const d = jsonDoc(r.stdout);
    assert.equal(d.action, "dry-run");
    assert.equal(d.target, "1.9.0");
    assert.equal(await treeHash(root), before, "--dry-run left nothing behind, not even an empty snapshots/ or .gpm/");
  });

  it("as root, replaced entries keep the owner and group of the ones they replace", async function () {
    if (typeof process.getuid !== "function" || process.getuid() !== 0) this.skip();
    for (const e of ["system", "system/defines.php", "vendor"]) await fsp.lchown(path.join(root, e), 65534, 65534);
    const r = await runGpm(["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed]);
    assert.equal(r.code, 0, r.stderr);
    for (const e of ["system", "system/defines.php", "system/src/Grav.php", "vendor", "vendor/autoload.php"]) {
      const st = await fsp.lstat(path.join(root, e));
      assert.deepEqual([st.uid, st.gid], [65534, 65534], e);
    }
    assert.equal((await fsp.lstat(path.join(root, "index.php"))).uid, 0, "an entry owned by root stays root's");
  });

  it("--json prints exactly one document, for success and for each failure", async () => {
    const bad = await makeFeed(path.join(base, "badfeed"), [{ version: "1.8.0", tree: releaseTree("1.8.0", { smokeExit: 1 }) }]);
    for (const [args, code] of [
      [["self-upgrade", "--feed", bad], 4],
      [["self-upgrade", "--version", "9.9.9", "--feed", feed], 1],
      [["rollback", "nope"], 1],
      [["preflight", "--feed", feed], 0],
      [["status"], 0],
    ] as [string[], number][]) {
      const r = await runGpm([...args, "--root", root, "--json"]);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      const doc = jsonDoc(r.stdout);
      assert.equal(doc.exitCode, code);
      assert.equal(doc.ok, code === 0);
      if (code) assert.equal(typeof doc.error.message, "string");
    }
  });

  it("a finalize killed while removing leftovers (only cleared/ left) is finished by the next command", async () => {
    const r = await runGpm(["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const snap = path.join(root, "snapshots", jsonDoc(r.stdout).manifest.id);
    await writeTree(snap, { "cleared/cache/compiled/abc.php": "<?php // cached\n" });
    const st = await runGpm(["status", "--root", root, "--json"]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(jsonDoc(st.stdout).recovered.join("\n"), /removed staged leftovers/);
    assert.deepEqual((await fsp.readdir(snap)).sort(), ["files.json", "log.ndjson", "manifest.json", "previous", "user"]);
  });

  it("five successive upgrades keep exactly three manifests and snapshots", async () => {
    const versions = ["1.8.0", "1.8.1", "1.8.2", "1.8.3", "1.8.4"];
    const f = await makeFeed(path.join(base, "feed5"), versions.map((version) => ({ version })));
    for (const v of versions) {
      const r = await runGpm(["self-upgrade", "--version", v, "--root", root, "--feed", f]);
      assert.equal(r.code, 0, r.stderr);
    }
    const ids = ((await fsp.readdir(path.join(root, "snapshots"))).filter((n) => n !== ".htaccess")).sort();
    assert.equal(ids.length, 3);
    assert.deepEqual(ids.map((i) => i.replace(/^.*Z-/, "")), ["1.8.2", "1.8.3", "1.8.4"]);
    assert.equal((await fsp.readdir(path.join(root, "user/data/upgrades"))).length, 3);
    const r = await runGpm(["snapshots", "--root", root, "--json"]);
    assert.deepEqual(jsonDoc(r.stdout).snapshots.map((s: { to: string }) => s.to), ["1.8.2", "1.8.3", "1.8.4"]);
  });
});
