import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, makeFeed, writeTree, treeHash, runGpm, type RunResult } from "../helpers/fixtures.js";
import { jsonDoc } from "../helpers/json.js";

/** Rollback and redo are swaps through the transaction layer; status, snapshots and verify read the result. */
describe("e2e: rollback, redo, snapshots, status, verify", function () {
  let base: string;
  let root: string;
  let feed: string;
  const gpm = (...args: string[]): Promise<RunResult> => runGpm([...args, "--root", root, "--feed", feed]);
  const json = async (...args: string[]): Promise<Record<string, any>> /* eslint-disable-line @typescript-eslint/no-explicit-any -- JSON documents under test */ => {
    const r = await gpm(...args, "--json");
    const doc = jsonDoc(r.stdout); // exactly one JSON document, or this throws
    assert.equal(doc.exitCode, r.code);
    return doc;
  };
  /** The site without gpm's bookkeeping and its records in user/data/upgrades. */
  const siteHash = (): Promise<string> =>
    treeHash(root, { exclude: (p) => /^(snapshots|\.gpm)(\/|$)/.test(p) || p === "user/data" || p.startsWith("user/data/upgrades") || p === "cache" || p.startsWith("cache/") });

  before(async () => {
    base = await tmpDir();
    root = path.join(base, "site");
    await makeSite(root, "1.7.48");
    feed = await makeFeed(path.join(base, "feed"), [{ version: "1.8.0" }, { version: "1.9.0" }]);
  });

  it("rolls back one upgrade at a time, then redoes them, losing nothing on the way", async () => {
    const at1748 = await siteHash();
    assert.equal((await gpm("self-upgrade", "--version", "1.8.0")).code, 0);
    const at180 = await siteHash();
    assert.equal((await gpm("self-upgrade")).code, 0);
    // Content written under 1.9.0 must survive a rollback (it goes into the snapshot) and come back on redo.
    await writeTree(root, { "user/pages/02.new/default.md": "written under 1.9.0\n" });
    const at190 = await siteHash();
    const [s1, s2] = (await json("snapshots")).snapshots;
    assert.deepEqual([s1.to, s2.to], ["1.8.0", "1.9.0"]);

    let r = await json("rollback", "--with-user");
    assert.equal(r.ok, true);
    assert.equal(r.id, s2.id);
    assert.equal(r.direction, "rollback");
    assert.equal(r.live, "1.8.0");
    assert.equal(await siteHash(), at180, "back to the 1.8.0 tree, user/ as it was then");
    r = await json("rollback", "--with-user");
    assert.equal(r.id, s1.id, "the next rollback steps back one more upgrade");
    assert.equal(await siteHash(), at1748);
    assert.equal((await json("status")).installed, "1.7.48");
    assert.deepEqual((await json("snapshots")).snapshots.map((s: { status: string }) => s.status), ["swapped", "swapped"]);

    const none = await gpm("rollback");
    assert.equal(none.code, 1, "nothing left to roll back");
    const outOfOrder = await gpm("rollback", s2.id);
    assert.equal(outOfOrder.code, 3, "redo of 1.9.0 needs 1.8.0 live");
    assert.match(outOfOrder.stderr, /but 1\.7\.48 is live \(expected 1\.8\.0\)/);

    assert.equal((await json("rollback", s1.id, "--with-user")).direction, "redo");
    assert.equal(await siteHash(), at180);
    r = await json("rollback", s2.id, "--with-user");
    assert.equal(r.direction, "redo");
    assert.equal(r.live, "1.9.0");
    assert.equal(await siteHash(), at190, "the page written under 1.9.0 is back");
    const m = JSON.parse(await fsp.readFile(path.join(root, "snapshots", s2.id, "manifest.json"), "utf8"));
    assert.deepEqual(m.swaps.map((s: { live: string }) => s.live), ["1.8.0", "1.9.0"]);
    assert.equal(m.status, "finalized");
    // Records mirror the manifests after every swap, whichever user/ is live.
    const { recordOf, ...rec } = JSON.parse(await fsp.readFile(path.join(root, "user/data/upgrades", `${s2.id}.json`), "utf8"));
    assert.equal(recordOf, "gpm");
    assert.deepEqual(rec, m);
  });

  it("issue 9: rollback keeps user/ live by default — a page written after the upgrade stays on the site; --with-user pins the snapshot", async () => {
    const b = await tmpDir();
    const r2 = path.join(b, "site");
    await makeSite(r2, "1.7.48", { config: { keep: 1 } });
    const f2 = await makeFeed(path.join(b, "feed"), [{ version: "1.8.0" }, { version: "1.9.0" }]);
    const g = (...args: string[]): Promise<RunResult> => runGpm([...args, "--root", r2, "--feed", f2]);
    assert.equal((await g("self-upgrade", "--version", "1.8.0")).code, 0);
    await writeTree(r2, { "user/pages/03.after/default.md": "written under 1.8.0\n" });
    const userBefore = await treeHash(path.join(r2, "user"), { exclude: (p) => p === "data" || p.startsWith("data/") });
    const rb = await g("rollback", "--json");
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(await fsp.readFile(path.join(r2, "user/pages/03.after/default.md"), "utf8"), "written under 1.8.0\n", "the page stays live");
    assert.equal(await treeHash(path.join(r2, "user"), { exclude: (p) => p === "data" || p.startsWith("data/") }), userBefore, "user/ untouched by the rollback");
    const id = JSON.parse(rb.stdout).id as string;
    let m = JSON.parse(await fsp.readFile(path.join(r2, "snapshots", id, "manifest.json"), "utf8"));
    assert.equal(m.swaps.at(-1).user, false);
    assert.notEqual(m.pinned, true);
    // Redo with --with-user: user/ swapped, the snapshot now holds the replaced user/ and is pinned.
    const redo = await g("rollback", id, "--with-user");
    assert.equal(redo.code, 0, redo.stderr);
    m = JSON.parse(await fsp.readFile(path.join(r2, "snapshots", id, "manifest.json"), "utf8"));
    assert.equal(m.swaps.at(-1).user, true);
    assert.equal(m.pinned, true);
    assert.equal(await fsp.readFile(path.join(r2, "snapshots", id, "user/pages/03.after/default.md"), "utf8"), "written under 1.8.0\n", "the replaced user/ is in the snapshot");
    // keep 1: the next upgrade must not prune the pinned snapshot holding that user/.
    assert.equal((await g("self-upgrade", "--version", "1.9.0")).code, 0);
    assert.ok(await fsp.stat(path.join(r2, "snapshots", id, "manifest.json")), "pinned snapshot survives retention");
  });

  it("verify lists drift and exits 1; status and snapshots report without writing", async () => {
    let v = await json("verify");
    assert.equal(v.ok, true);
    assert.deepEqual(v.drift, []);
    await fsp.appendFile(path.join(root, "system/src/Grav.php"), "// local edit\n");
    await writeTree(root, { "vendor/extra.php": "<?php\n" });
    await fsp.rm(path.join(root, "index.php"));
    v = await json("verify");
    assert.equal(v.exitCode, 1);
    assert.deepEqual(v.drift, [
      { path: "index.php", kind: "missing" },
      { path: "system/src/Grav.php", kind: "modified" },
      { path: "vendor/extra.php", kind: "added" },
    ]);
    const before = await treeHash(root);
    const s = await json("status");
    assert.equal(s.installed, "1.9.0");
    assert.equal(s.pendingTransaction, null);
    assert.equal(s.maintenance, null);
    assert.equal(s.recovery, null);
    assert.equal(s.lastUpgrade.to, "1.9.0");
    await json("snapshots");
    assert.equal(await treeHash(root), before, "read-only commands wrote nothing");
  });

  it("refuses a manifest id that is not an existing manifest's id, never using it as a path", async () => {
    const before = await treeHash(root);
    for (const id of ["../../etc", "..", ".", "/etc/passwd", "snapshots/../..", "a/b", "20251017T235348Z-9.9.9", "id with space", "%2e%2e"]) {
      const r = await gpm("rollback", id);
      assert.equal(r.code, 1, `${id}: ${r.stderr}`);
      assert.match(r.stderr, /^error: no manifest with id/m);
    }
    assert.equal(await treeHash(root), before);
  });
});
