import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import { openInstallation, type Installation } from "../../../lib/install/installation.js";
import { loadFeed, selectRelease } from "../../../lib/stage/feed.js";
import { readManifest, listManifests } from "../../../lib/store/manifest.js";
import { discardStage, stageRelease } from "../../../lib/stage/stage.js";
import type { FileRecord } from "../../../lib/store/files-record.js";
import type { Release } from "../../../lib/stage/types.js";
import { Exit, GpmError } from "../../../lib/util/errors.js";
import { silentLogger } from "../../../lib/util/log.js";
import { noProgress } from "../../../lib/util/progress.js";
import { makeFeed, makeSite, releaseTree, serveDir, tmpDir, treeHash, treeState, type Server } from "../../helpers/fixtures.js";
import { symlink, file, writeRawZip } from "../../helpers/raw-zip.js";
import { listing, rejectsGpm } from "./helpers.js";

const notSnapshots = (rel: string): boolean => rel === "snapshots" || rel.startsWith("snapshots/");
const opts = { from: "1.7.48", log: silentLogger, progress: noProgress };

describe("stage/stage: stageRelease", () => {
  let servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });

  /** A site at 1.7.48 and a feed served on 127.0.0.1 with 1.8.0 (wrapped in a folder). */
  async function setup(config: Record<string, unknown> = {}, feedRelease: Parameters<typeof makeFeed>[1][number] = { version: "1.8.0", wrap: "grav-update" }) {
    const root = await tmpDir();
    const feedDir = await tmpDir();
    await makeSite(root, "1.7.48", { config });
    await makeFeed(feedDir, [feedRelease]);
    const s = await serveDir(feedDir);
    servers.push(s);
    const inst = await openInstallation({ root, feed: `${s.url}/releases.json` });
    const release = selectRelease(await loadFeed(inst.config.feed, { log: silentLogger }), { version: feedRelease.version, channel: "stable", requireSha256: false });
    return { root, feedDir, inst, release, server: s };
  }

  it("stages download, package, files.json, user/ copy and a complete manifest, writing only under snapshots/<id>/", async () => {
    const { root, inst, release } = await setup();
    const before = await treeHash(root, { exclude: notSnapshots });
    const userBefore = await treeState(path.join(root, "user"));

    const stage = await stageRelease(inst, release, opts);

    assert.equal(await treeHash(root, { exclude: notSnapshots }), before, "nothing outside snapshots/ changed");
    assert.deepEqual((await fsp.readdir(path.join(root, "snapshots"))).filter((n) => n !== ".htaccess"), [stage.id], "only snapshots/<id>/ was created");
    assert.match(stage.id, /^\d{8}T\d{6}Z-1\.8\.0$/);
    assert.equal(stage.dir, path.join(root, "snapshots", stage.id));
    assert.deepEqual((await fsp.readdir(stage.dir)).sort(), ["files.json", "manifest.json", "package", "package.zip", "user"]);

    // package: the wrapping folder stripped, modes kept
    assert.equal(stage.packageDir, path.join(stage.dir, "package"));
    assert.equal(stage.archive, path.join(stage.dir, "package.zip"));
    assert.equal(await fsp.readFile(path.join(stage.packageDir, "system/defines.php"), "utf8"), "<?php\ndefine('GRAV_VERSION', '1.8.0');\n");
    assert.equal((await fsp.stat(path.join(stage.packageDir, "bin/grav"))).mode & 0o777, 0o755);
    assert.deepEqual(stage.entries, [".htaccess", "CHANGELOG.md", "bin", "cache", "composer.json", "index.php", "logs", "robots.txt", "system", "user", "vendor"]);

    // user/: an exact copy, link kept as a link, 0600 kept
    assert.deepEqual(await treeState(path.join(stage.dir, "user")), userBefore);
    assert.equal(await fsp.readlink(path.join(stage.dir, "user", "home-link.md")), "pages/01.home/default.md");
    assert.equal((await fsp.stat(path.join(stage.dir, "user/accounts/admin.yaml"))).mode & 0o777, 0o600);

    // files.json: path -> sha256, size, mode
    const index = JSON.parse(await fsp.readFile(path.join(stage.dir, "files.json"), "utf8")) as FileRecord;
    const defines = await fsp.readFile(path.join(stage.packageDir, "system/defines.php"));
    assert.deepEqual(index["system/defines.php"], { sha256: crypto.createHash("sha256").update(defines).digest("hex"), size: defines.length, mode: 0o644 });
    assert.equal(index["bin/grav"]?.mode, 0o755);
    assert.equal(Object.keys(index).length, Object.keys(releaseTree("1.8.0")).length);

    // manifest: every field of SPEC section 6
    const m = await readManifest(inst, stage.id);
    assert.deepEqual(m, stage.manifest);
    assert.ok(m);
    assert.equal(m.id, stage.id);
    assert.equal(m.kind, "upgrade");
    assert.equal(m.status, "staged");
    assert.equal(m.from, "1.7.48");
    assert.equal(m.to, "1.8.0");
    assert.ok(!Number.isNaN(Date.parse(m.createdAt)));
    assert.equal(m.finishedAt, null);
    const zip = await fsp.readFile(stage.archive);
    assert.deepEqual(m.package, { url: release.url, sha256: crypto.createHash("sha256").update(zip).digest("hex"), size: zip.length, asset: "grav-update-1.8.0.zip" });
    assert.equal(m.runtime.node, process.version);
    assert.ok(m.runtime.php === null || /^\d+\.\d+/.test(m.runtime.php));
    assert.match(m.runtime.os, /^\w+ \S+/);
    assert.deepEqual(m.packages, [{ name: "myplugin", version: null, enabled: true }]);
    assert.deepEqual(m.core, ["CHANGELOG.md", "bin", "composer.json", "index.php", "system", "vendor"]);
    assert.deepEqual(m.preserved, [".gpm", ".htaccess", ".upgrading", "backup", "cache", "gpm.json", "images", "logs", "robots.txt", "snapshots", "tmp", "user"]);
    assert.deepEqual(m.files, { count: Object.keys(index).length, bytes: Object.values(index).reduce((n, f) => n + f.size, 0) });
    for (const k of ["download", "verify", "extract", "snapshot"]) assert.equal(typeof m.timings[k], "number", k);
    assert.equal(m.downtimeMs, null);
    assert.equal(m.smoke, null);
    assert.equal(m.error, null);
    assert.deepEqual(m.swaps, []);
    assert.deepEqual((await listManifests(inst)).map((x) => x.id), [stage.id]);
  });

  it("discardStage removes the stage (the --dry-run path)", async () => {
    const { root, inst, release } = await setup();
    const stage = await stageRelease(inst, release, opts);
    await discardStage(inst, stage);
    assert.deepEqual((await fsp.readdir(path.join(root, "snapshots"))).filter((n) => n !== ".htaccess"), []);
    await rejectsGpm(discardStage(inst, { ...stage, dir: root }), Exit.ERROR, /refusing to remove/);
    assert.ok(fs.existsSync(path.join(root, "index.php")));
  });

  it("uses a given id, and refuses one that exists or is not an id", async () => {
    const { inst, release } = await setup();
    const stage = await stageRelease(inst, release, { ...opts, id: "custom-1.8.0" });
    assert.equal(stage.id, "custom-1.8.0");
    await rejectsGpm(stageRelease(inst, release, { ...opts, id: "custom-1.8.0" }), Exit.ERROR, /snapshot custom-1\.8\.0 already exists/);
    await rejectsGpm(stageRelease(inst, release, { ...opts, id: "../escape" }), Exit.ERROR, /not a manifest id/);
    assert.ok(fs.existsSync(path.join(stage.dir, "manifest.json")), "the existing stage is untouched");
  });

  it("refuses a snapshot store inside user/ (SPEC section 2: it would be copied into every snapshot and swapped away with user/)", async () => {
    await assert.rejects(setup({ snapshotDir: "user/snapshots" }), (err: unknown) => err instanceof GpmError && err.code === Exit.ERROR && /snapshotDir: "user\/snapshots" lies inside user\//.test(err.message));
  });

  describe("on failure, removes snapshots/<id>/ and changes nothing else", () => {
    async function expectCleanFailure(inst: Installation, release: Release, code: number, re: RegExp): Promise<void> {
      const before = await treeHash(inst.root, { exclude: notSnapshots });
      await rejectsGpm(stageRelease(inst, release, opts), code, re);
      assert.equal(await treeHash(inst.root, { exclude: notSnapshots }), before);
      assert.deepEqual((await listing(inst.paths.snapshots).catch(() => [] as string[])).filter((n) => n !== ".htaccess"), [], "no stage left behind");
    }

    it("a wrong sha256 (exit 6)", async () => {
      const { inst, release } = await setup({}, { version: "1.8.0", badSha: true });
      await expectCleanFailure(inst, release, Exit.INTEGRITY, /sha256 mismatch/);
    });

    it("a release without sha256 (exit 6), before creating anything", async () => {
      const { inst, release } = await setup({}, { version: "1.8.0", omitSha: true });
      await expectCleanFailure(inst, release, Exit.INTEGRITY, /has no sha256/);
      assert.equal(fs.existsSync(inst.paths.snapshots), false);
    });

    it("a missing signature when publicKey is set (exit 6)", async () => {
      const key = crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "pem", type: "spki" }).toString();
      const { inst, release } = await setup({ publicKey: key });
      await expectCleanFailure(inst, release, Exit.INTEGRITY, /has no signature/);
    });

    it("accepts a good signature when publicKey is set", async () => {
      const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
      const feedDir = await tmpDir();
      await makeFeed(feedDir, [{ version: "1.8.0" }]);
      const feed = JSON.parse(await fsp.readFile(path.join(feedDir, "releases.json"), "utf8")) as { releases: { sha256: string; signature?: string }[] };
      feed.releases[0]!.signature = crypto.sign(null, Buffer.from(feed.releases[0]!.sha256, "ascii"), privateKey).toString("base64");
      await fsp.writeFile(path.join(feedDir, "releases.json"), JSON.stringify(feed));
      const root = await tmpDir();
      await makeSite(root, "1.7.48", { config: { publicKey: publicKey.export({ format: "pem", type: "spki" }).toString() } });
      const inst = await openInstallation({ root, feed: path.join(feedDir, "releases.json") });
      const [release] = await loadFeed(inst.config.feed, { log: silentLogger });
      const stage = await stageRelease(inst, release!, opts);
      assert.equal(stage.manifest.status, "staged");
    });

    it("a hostile archive (exit 6), with nothing written outside the stage", async () => {
      const parent = await tmpDir();
      const root = path.join(parent, "site");
      await makeSite(root, "1.7.48");
      const { sha256, size } = await writeRawZip(path.join(parent, "feed", "evil.zip"), [file("index.php", "<?php"), symlink("system", "../../.."), file("system/pwned.php", "x")]);
      const inst = await openInstallation({ root });
      const release: Release = { version: "1.8.0", url: `file://${path.join(parent, "feed", "evil.zip")}`, sha256, size, date: null, channel: "stable", changelog: "", requires: {}, conflicts: [], signature: null };
      const outsideStage = (rel: string): boolean => rel === "site/snapshots" || rel.startsWith("site/snapshots/");
      const before = await treeState(parent, { exclude: outsideStage });
      await expectCleanFailure(inst, release, Exit.INTEGRITY, /unsafe archive: entry "system\/pwned\.php" is beneath the symlink "system"/);
      assert.deepEqual(await treeState(parent, { exclude: outsideStage }), before);
    });

    it("a download above limits.maxDownloadBytes (exit 6)", async () => {
      const { inst, release } = await setup({ limits: { maxDownloadBytes: 1000 } });
      await expectCleanFailure(inst, release, Exit.INTEGRITY, /maxDownloadBytes/);
    });

    it("an unreachable release url (exit 1)", async () => {
      const { inst, release, server } = await setup();
      await server.close();
      await expectCleanFailure(inst, release, Exit.ERROR, /unreachable/);
    });

    it("a user/ that cannot be copied (exit 1)", async () => {
      const { inst, release, root } = await setup();
      await fsp.rm(path.join(root, "user"), { recursive: true });
      await fsp.writeFile(path.join(root, "user"), "a file where user/ should be");
      await expectCleanFailure(inst, release, Exit.ERROR, /cannot snapshot .*user: not a folder/);
    });
  });
});
