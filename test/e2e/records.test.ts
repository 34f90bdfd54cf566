import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, makeFeed, runGpm } from "../helpers/fixtures.js";

/**
 * Issue 9 item 3: in user/data/upgrades/ gpm writes and removes only its own
 * records ("recordOf": "gpm"). Grav 1.8 keeps its own upgrade manifests and
 * quarantine.json there: they must come through upgrades, pruning and
 * rollbacks byte for byte.
 */
describe("e2e: user/data/upgrades holds gpm's records beside Grav's own files", function () {
  it("leaves Grav's files alone and marks its own records recordOf gpm (keep 1 prunes one record)", async () => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    const theirs: Record<string, string> = {
      "quarantine.json": '{"grav":"quarantine"}\n',
      "20240101T000000Z-1.7.0.json": '{"id":"20240101T000000Z-1.7.0","written":"by Grav"}\n',
      "notes.txt": "not json\n",
    };
    const extra = Object.fromEntries(Object.entries(theirs).map(([n, c]) => [`user/data/upgrades/${n}`, c]));
    await makeSite(root, "1.7.48", { config: { keep: 1 }, extra });
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.8.0" }, { version: "1.9.0" }]);
    const gpm = (...args: string[]): ReturnType<typeof runGpm> => runGpm([...args, "--root", root, "--feed", feed]);
    assert.equal((await gpm("self-upgrade", "--version", "1.8.0")).code, 0);
    assert.equal((await gpm("self-upgrade", "--version", "1.9.0")).code, 0); // prunes the 1.8.0 snapshot and its record
    assert.equal((await gpm("rollback")).code, 0);
    const dir = path.join(root, "user", "data", "upgrades");
    for (const [n, c] of Object.entries(theirs)) assert.equal(await fsp.readFile(path.join(dir, n), "utf8"), c, `${n} is left byte for byte`);
    const ours = (await fsp.readdir(dir)).filter((n) => !(n in theirs));
    assert.equal(ours.length, 1, `one record for the one snapshot kept: ${ours.join(", ")}`);
    const rec = JSON.parse(await fsp.readFile(path.join(dir, ours[0]!), "utf8"));
    assert.equal(rec.recordOf, "gpm");
    assert.equal(rec.to, "1.9.0");
  });
});
