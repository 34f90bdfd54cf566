import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { extractArchive } from "../../lib/stage/extract.js";
import { silentLogger } from "../../lib/util/log.js";
import { noProgress } from "../../lib/util/progress.js";
import { tmpDir, makeSite, makeFeed, makeZip, releaseTree, runGpm, treeHash, treeState, writeTree, notGpmState } from "../helpers/fixtures.js";
import { installRealPlugin, REAL } from "../unit/install/real-plugins.js";

/**
 * Issue 10 on the real inputs of /work/shared/fixtures/real: Grav's own
 * 1.7.48, 1.8.0-beta.29 and 2.0.0 (git archives: no vendor/, so the smoke
 * check is the built-in version check alone), the real email and login
 * plugins; plus our own packages that are not the release they claim to be.
 */

const sums = async (): Promise<Map<string, string>> =>
  new Map((await fsp.readFile(path.join(REAL, "SHA256SUMS"), "utf8")).trim().split("\n").map((l) => [l.split(/\s+/)[1]!, l.split(/\s+/)[0]!]));

async function unzipTo(zip: string, dest: string): Promise<void> {
  await extractArchive(zip, dest, { maxFiles: 100_000, maxUnpackedBytes: 1 << 30, progress: noProgress, log: silentLogger, workers: 0 });
}

const grav = (v: string): string => path.join(REAL, "grav", `grav-update-${v}.zip`);
const defines = (root: string): Promise<string> => fsp.readFile(path.join(root, "system/defines.php"), "utf8");
/** Everything but gpm's state, its records in user/data/, and cache/'s content (emptied at promote: clearOnPromote). */
const liveTree = (root: string): ReturnType<typeof treeState> => treeState(root, { exclude: (p) => notGpmState(p) || p.startsWith("user/data") || p.startsWith("cache/") });

describe("e2e: real Grav 1.7.48 → 1.8.0-beta.29 → 2.0.0 and back by rollback", function () {
  it("upgrades through the real releases with the real plugins, reports the asset, and rolls back to the original tree", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await unzipTo(grav("1.7.48"), root);
    await installRealPlugin(root, "email-4.2.1", "email");
    await installRealPlugin(root, "login-3.8.13", "login");
    // email needs form >=7.0.0 (blueprints dependencies); login needs email >=5 and is switched off.
    await writeTree(root, {
      "user/plugins/form/blueprints.yaml": "name: Form\nversion: 8.0.0\n",
      "user/config/plugins/login.yaml": "# switched off until email 5\nenabled: false\n",
      "gpm.json": JSON.stringify({ smokeCheck: null, channel: "stable" }),
    });
    const h = await sums();
    const conflicts = [{ package: "psr/log", versions: "<3", message: "ships psr/log 3" }];
    const feed = path.join(base, "releases.json");
    await fsp.writeFile(
      feed,
      JSON.stringify({
        releases: [
          { version: "1.7.48", url: pathToFileURL(grav("1.7.48")).href, sha256: h.get("grav-update-1.7.48.zip") },
          { version: "1.8.0-beta.29", channel: "testing", url: pathToFileURL(grav("1.8.0-beta.29")).href, sha256: h.get("grav-update-1.8.0-beta.29.zip"), conflicts },
          { version: "2.0.0", url: pathToFileURL(grav("2.0.0")).href, sha256: h.get("grav-update-2.0.0.zip"), conflicts },
        ],
      }),
    );
    const original = await liveTree(root);
    assert.match(await defines(root), /define\('GRAV_VERSION', '1\.7\.48'\);/);

    let r = await runGpm(["preflight", "1.8.0-beta.29", "--root", root, "--feed", feed, "--json"]);
    const checks = JSON.parse(r.stdout).checks as { id: string; status: string; message: string }[];
    const byId = new Map(checks.map((c) => [c.id, c]));
    assert.equal(byId.get("plugin-conflicts")?.status, "pass", byId.get("plugin-conflicts")?.message);
    assert.equal(byId.get("plugin-dependencies")?.status, "warn", "only the disabled login has problems");
    assert.match(byId.get("plugin-dependencies")!.message, /user\/plugins\/login \(disabled\) needs email >=5\.0\.0, but 4\.2\.1 is installed/);
    assert.match(byId.get("plugin-dependencies")!.message, /declares compatibility with grav 1\.7, 2\.0, not 1\.8/);

    r = await runGpm(["self-upgrade", "--version", "1.8.0-beta.29", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const m1 = JSON.parse(r.stdout).manifest;
    assert.deepEqual([m1.from, m1.to, m1.package.asset], ["1.7.48", "1.8.0-beta.29", "grav-update-1.8.0-beta.29.zip"]);
    assert.match(await defines(root), /'1\.8\.0-beta\.29'/);
    assert.deepEqual(
      m1.packages.filter((p: { name: string }) => ["email", "login"].includes(p.name)),
      [{ name: "email", version: "4.2.1", enabled: true }, { name: "login", version: "3.8.13", enabled: false }],
    );

    r = await runGpm(["self-upgrade", "--check", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const check = JSON.parse(r.stdout);
    assert.deepEqual([check.installed, check.latest, check.asset, check.updateAvailable], ["1.8.0-beta.29", "2.0.0", "grav-update-2.0.0.zip", true]);

    r = await runGpm(["self-upgrade", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).manifest.to, "2.0.0");
    assert.match(await defines(root), /define\("GRAV_VERSION", "2\.0\.0"\);/, "Grav 2.0 writes double quotes");
    r = await runGpm(["status", "--root", root, "--json"]);
    assert.equal(JSON.parse(r.stdout).installed, "2.0.0");

    r = await runGpm(["rollback", "--root", root, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await defines(root), /'1\.8\.0-beta\.29'/);
    r = await runGpm(["rollback", "--root", root, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await defines(root), /define\('GRAV_VERSION', '1\.7\.48'\);/);
    assert.deepEqual(await liveTree(root), original, "the original 1.7.48 tree, byte for byte");
  });

  it("a GitHub-shaped feed with Grav's three zips per release installs grav-update-…zip", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await unzipTo(grav("1.7.48"), root);
    await writeTree(root, { "gpm.json": JSON.stringify({ smokeCheck: null }) });
    const h = await sums();
    // grav-v… and grav-admin-… point at a README-only zip: taking either would be refused (exit 6).
    const wrong = path.join(base, "wrong.zip");
    const w = await makeZip(wrong, { "README.md": "not an update\n" });
    const asset = (name: string, file: string, sha: string): Record<string, unknown> => ({ name, browser_download_url: pathToFileURL(file).href, digest: `sha256:${sha}` });
    const gh = path.join(base, "gh.json");
    await fsp.writeFile(gh, JSON.stringify([{ tag_name: "2.0.0", body: "Grav 2", assets: [asset("grav-v2.0.0.zip", wrong, w.sha256), asset("grav-admin-v2.0.0.zip", wrong, w.sha256), asset("grav-update-v2.0.0.zip", grav("2.0.0"), h.get("grav-update-2.0.0.zip")!)] }]));
    let r = await runGpm(["self-upgrade", "--check", "--root", root, "--feed", gh]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /installed 1\.7\.48, available 2\.0\.0 \(grav-update-v2\.0\.0\.zip\)/);
    r = await runGpm(["self-upgrade", "--root", root, "--feed", gh, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).manifest.package.asset, "grav-update-v2.0.0.zip");
  });
});

describe("e2e: the package must be the release before anything goes live", function () {
  const cases: [string, () => Parameters<typeof makeFeed>[1][number], RegExp][] = [
    ["a lying defines.php", () => ({ version: "1.8.0", tree: releaseTree("1.8.0", { extra: { "system/defines.php": "<?php\ndefine('GRAV_VERSION', '1.7.49.4');\n" } }) }), /the package of release 1\.8\.0 is version 1\.7\.49\.4 by its system\/defines\.php: it is not the release the feed describes/],
    ["a README-only zip", () => ({ version: "1.8.0", tree: { "README.md": "# just a readme\n" } }), /the package of release 1\.8\.0 has no system\/defines\.php/],
  ];
  for (const [what, rel, re] of cases) {
    it(`refuses ${what} with exit 6 in one line; the maintenance flag never goes up, nothing changes`, async () => {
      const base = await tmpDir();
      const root = path.join(base, "site");
      await makeSite(root, "1.7.48", { config: { smokeCheck: { command: ["node", "-e", "require('fs').writeFileSync('smoke-ran','')"] } } });
      const feed = await makeFeed(path.join(base, "feed"), [rel()]);
      const before = await treeHash(root, { exclude: notGpmState });
      const r = await runGpm(["self-upgrade", "--root", root, "--feed", feed]);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").filter((l) => /^error:/.test(l)).length, 1);
      assert.doesNotMatch(r.stderr, /promoting|maintenance|restor/i, "promote never began");
      assert.equal(await treeHash(root, { exclude: notGpmState }), before);
      assert.deepEqual((await fsp.readdir(path.join(root, "snapshots")).catch(() => [])).filter((n) => n !== ".gitkeep"), [], "no attempt recorded: it never reached promote");
    });
  }

  it("drops __MACOSX/ beside grav-update/ and .DS_Store files: the release installs, the junk never reaches the root", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.7.48");
    const tree = releaseTree("1.8.0", { extra: { "system/.DS_Store": "junk" } });
    const entries = [
      ...Object.entries(tree).map(([name, e]) => ({ name: `grav-update/${name}`, ...(typeof e === "string" ? { content: e } : "content" in e ? { content: e.content, ...(e.mode ? { mode: e.mode } : {}) } : {}) })),
      { name: "__MACOSX/grav-update/._index.php", content: "resource fork" },
      { name: "__MACOSX/._grav-update", content: "resource fork" },
    ];
    const zip = path.join(base, "feed", "grav-update-1.8.0.zip");
    const { sha256 } = await makeZip(zip, entries);
    const feed = path.join(base, "feed", "releases.json");
    await fsp.writeFile(feed, JSON.stringify({ releases: [{ version: "1.8.0", url: "grav-update-1.8.0.zip", sha256 }] }));
    const r = await runGpm(["self-upgrade", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await defines(root), /'1\.8\.0'/);
    await assert.rejects(fsp.lstat(path.join(root, "__MACOSX")));
    await assert.rejects(fsp.lstat(path.join(root, "grav-update")));
    await assert.rejects(fsp.lstat(path.join(root, "system/.DS_Store")));
  });
});

describe("e2e: 4-part versions (Grav's 1.7.49.x)", function () {
  it("an installed 1.7.49.4 sees 1.7.49.5 and 1.7.50 in Grav's order, and upgrades to each (no 'Invalid Version')", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.7.49.4");
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.7.49.4" }, { version: "1.7.49.5" }, { version: "1.7.50" }, { version: "1.7.49" }]);
    let r = await runGpm(["self-upgrade", "--check", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    assert.deepEqual([c.installed, c.latest, c.releases.map((x: { version: string }) => x.version)], ["1.7.49.4", "1.7.50", ["1.7.49.5", "1.7.50"]]);
    r = await runGpm(["self-upgrade", "--version", "1.7.49", "--root", root, "--feed", feed]);
    assert.equal(r.code, 3, "1.7.49 is older than 1.7.49.4: a downgrade");
    r = await runGpm(["self-upgrade", "--version", "1.7.49.5", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await defines(root), /'1\.7\.49\.5'/);
    r = await runGpm(["self-upgrade", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).manifest.to, "1.7.50");
  });
});

describe("e2e: the real email 4.2.0 blocks an upgrade to a psr/log 3 release", function () {
  it("exit 3 naming the bundled psr/log; the preflight table on stdout, but not with --quiet", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.7.48");
    await installRealPlugin(root, "email-4.2.0", "email");
    await writeTree(root, { "user/plugins/form/blueprints.yaml": "version: 8.0.0\n" });
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.8.0", conflicts: [{ package: "psr/log", versions: "<3" }] }]);
    const before = await treeHash(root, { exclude: notGpmState });
    let r = await runGpm(["self-upgrade", "--root", root, "--feed", feed]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /preflight failed: plugin-conflicts — .*user\/plugins\/email bundles psr\/log 1\.1\.4/);
    assert.match(r.stdout, /^fail {2}plugin-conflicts/m);
    r = await runGpm(["self-upgrade", "--quiet", "--root", root, "--feed", feed]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "", "--quiet: no preflight table on stdout");
    assert.match(r.stderr, /^error: preflight failed: plugin-conflicts/m);
    assert.equal(await treeHash(root, { exclude: notGpmState }), before);
  });
});
