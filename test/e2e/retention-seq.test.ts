import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, makeFeed, runGpm } from "../helpers/fixtures.js";

/**
 * Issue 9 item 2: retention orders snapshots by a `seq` that only grows, not
 * by a clock. Snapshots made while the clock was 50 years ahead must not make
 * finalize prune the snapshot it has just made (the way back from the live tree).
 */
describe("e2e: retention by seq, not by the clock", function () {
  it("keeps the snapshot just made when older manifests carry a future createdAt (keep 1)", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.7.48", { config: { keep: 1 } });
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.8.0" }, { version: "1.9.0" }]);
    const gpm = (...args: string[]): ReturnType<typeof runGpm> => runGpm([...args, "--root", root, "--feed", feed]);
    assert.equal((await gpm("self-upgrade", "--version", "1.8.0")).code, 0);
    const snaps = path.join(root, "snapshots");
    const [first] = (await fsp.readdir(snaps)).filter((n) => !n.startsWith("."));
    // The clock was 50 years ahead when this snapshot was made.
    const file = path.join(snaps, first!, "manifest.json");
    const m = JSON.parse(await fsp.readFile(file, "utf8"));
    assert.equal(m.seq, 1, "the first manifest gets seq 1");
    m.createdAt = "2076-01-01T00:00:00.000Z";
    await fsp.writeFile(file, JSON.stringify(m));

    const r = await gpm("self-upgrade", "--version", "1.9.0", "--json");
    assert.equal(r.code, 0, r.stderr);
    const left = (await fsp.readdir(snaps)).filter((n) => !n.startsWith("."));
    assert.equal(left.length, 1, `keep 1 leaves one snapshot: ${left.join(", ")}`);
    const kept = JSON.parse(await fsp.readFile(path.join(snaps, left[0]!, "manifest.json"), "utf8"));
    assert.equal(kept.to, "1.9.0", "the snapshot just made (the way back from 1.9.0) is kept");
    assert.equal(kept.seq, 2);
    assert.equal((await gpm("rollback")).code, 0, "and rollback can use it");
  });
});
