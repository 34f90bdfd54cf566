import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir, makeSite, makeFeed, cliAt, type RunResult } from "../helpers/fixtures.js";

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON documents under test */

/**
 * Issue 9 items 1 and 2: pins (`gpm snapshots pin|unpin ID`), which snapshot
 * the live tree came from, and retention that never deletes the way back.
 */
describe("e2e: pins, the live tree's source, retention keeps the way back", function () {
  const site = async (versions: string[], keep: number): Promise<{ root: string; gpm: (...a: string[]) => Promise<RunResult>; json: (...a: string[]) => Promise<Record<string, any>> }> => {
    const base = await tmpDir();
    const root = path.join(base, "site");
    await makeSite(root, "1.7.0", { config: { keep } });
    const feed = await makeFeed(path.join(base, "feed"), versions.map((version) => ({ version })));
    return { root, ...cliAt(root, feed) };
  };
  const ids = async (root: string): Promise<string[]> => (await fsp.readdir(path.join(root, "snapshots"))).filter((n) => !n.startsWith(".")).sort();
  const manifest = async (root: string, id: string): Promise<any> => JSON.parse(await fsp.readFile(path.join(root, "snapshots", id, "manifest.json"), "utf8"));

  it("pin and unpin through the CLI; snapshots shows pinned and the live tree's source (human and --json)", async () => {
    const { root, gpm, json } = await site(["1.7.1", "1.7.2", "1.7.3"], 1);
    assert.equal((await gpm("self-upgrade", "--version", "1.7.1")).code, 0);
    let list = await json("snapshots");
    const [a] = list.snapshots;
    assert.equal(a.pinned, false);
    assert.equal(a.liveSource, true, "the upgrade that installed 1.7.1");
    assert.equal(list.liveSource, a.id);

    let r = await json("snapshots", "pin", a.id);
    assert.equal(r.ok, true);
    assert.equal(r.changed, true);
    assert.equal((await manifest(root, a.id)).pinned, true);
    assert.equal((await json("snapshots", "pin", a.id)).changed, false, "pinning twice changes nothing");
    const human = await gpm("snapshots");
    assert.equal(human.code, 0);
    assert.match(human.stdout, new RegExp(`^\\* ${a.id}.*pinned$`, "m"));
    assert.match(human.stdout, new RegExp(`the live tree came from ${a.id}`));

    // keep 1: two more upgrades would prune a; the pin keeps it (and does not take the one place).
    assert.equal((await gpm("self-upgrade", "--version", "1.7.2")).code, 0);
    assert.equal((await gpm("self-upgrade", "--version", "1.7.3")).code, 0);
    list = await json("snapshots");
    assert.deepEqual(
      list.snapshots.map((s: any) => [s.to, s.pinned, s.liveSource]),
      [
        ["1.7.1", true, false],
        ["1.7.3", false, true],
      ],
      "the pinned one and the way back from 1.7.3",
    );

    // After a rollback the live tree came from the swapped snapshot.
    assert.equal((await gpm("rollback")).code, 0);
    list = await json("snapshots");
    assert.equal(list.snapshots.find((s: any) => s.liveSource).to, "1.7.3", "1.7.2 was put back by the rollback of the 1.7.3 upgrade");

    r = await json("snapshots", "unpin", a.id);
    assert.equal(r.changed, true);
    assert.equal((await manifest(root, a.id)).pinned, false);
    const bad = await gpm("snapshots", "pin", "../outside");
    assert.equal(bad.code, 1, "an id that is no manifest's id");
    assert.match(bad.stderr, /no manifest with id/);
  });

  it("keeps the only way back to 1.7.0 rather than two superseded swapped copies (keep 3)", async () => {
    const { root, gpm, json } = await site(["1.7.1", "1.7.2", "1.7.3"], 3);
    const ok = async (...a: string[]): Promise<void> => {
      const r = await gpm(...a);
      assert.equal(r.code, 0, `${a.join(" ")}: ${r.stderr}`);
    };
    await ok("self-upgrade", "--version", "1.7.1"); // A: 1.7.0 → 1.7.1, the only way back to 1.7.0
    await ok("self-upgrade", "--version", "1.7.2"); // B
    await ok("rollback"); // B swapped, 1.7.1 live
    await ok("self-upgrade", "--version", "1.7.2"); // C supersedes B
    await ok("self-upgrade", "--version", "1.7.3"); // D
    await ok("rollback"); // D swapped, 1.7.2 live
    await ok("self-upgrade", "--version", "1.7.3"); // E supersedes D; finalize prunes
    const left = await Promise.all((await ids(root)).map((id) => manifest(root, id)));
    assert.deepEqual(
      left.map((m) => [m.from, m.to, m.status]),
      [
        ["1.7.0", "1.7.1", "finalized"],
        ["1.7.1", "1.7.2", "finalized"],
        ["1.7.2", "1.7.3", "finalized"],
      ],
      "the chain back to 1.7.0 is kept, the swapped copies B and D are pruned",
    );
    // And the way back works, step by step, down to 1.7.0.
    for (const v of ["1.7.2", "1.7.1", "1.7.0"]) {
      const r = await json("rollback");
      assert.equal(r.live, v);
    }
    assert.equal((await json("status")).installed, "1.7.0");
  });
});
