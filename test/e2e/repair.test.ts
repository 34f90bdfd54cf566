import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { tmpDir, makeSite, makeFeed, releaseTree, runGpm, type TreeSpec } from "../helpers/fixtures.js";
import { cloneSite, liveState, userState, gpmStatus, assertCleanState, stateDiff, startGpm, sleep, type State } from "./crash-fixtures.js";

/**
 * Issue 11 item 5: after a crash the site must not wait for a person. An
 * upgrade is SIGKILLed at random instants of the swap (after the maintenance
 * flag went up); then `gpm repair` alone — the command boot and cron run —
 * returns the tree to wholly old or wholly new, lowers the flag, says what it
 * did in one line, and exits 0. GPM_TEST_SEED=<n> replays the instants.
 */

const ROUNDS = Number(process.env.GPM_TEST_REPAIR_ROUNDS ?? 8);

function bulk(prefix: string, count: number, tag: string): TreeSpec {
  const t: TreeSpec = {};
  for (let i = 0; i < count; i++) t[`${prefix}/pkg${i % 20}/File${i}.php`] = `<?php // ${tag} ${i}\n`;
  return t;
}

describe("e2e: gpm repair after a SIGKILL mid-swap", function () {
  this.timeout(600_000);
  const seed = Number(process.env.GPM_TEST_SEED ?? Date.now() % 1_000_000);
  let template = "";
  let feed = "";
  let oldState: State;
  let oldUser: State;
  let newState: State;
  let flagToExitMs = 0;

  before(async () => {
    const base = await tmpDir("gpm-repair-");
    feed = await makeFeed(path.join(base, "feed"), [{ version: "1.8.0", tree: releaseTree("1.8.0", { extra: bulk("vendor/big", 600, "1.8.0") }) }]);
    template = path.join(base, "site");
    await makeSite(template, "1.7.48", { extra: bulk("vendor/big", 600, "1.7.48") });
    oldState = await liveState(template);
    oldUser = await userState(template);
    const cal = await cloneSite(template);
    const t0 = Date.now();
    const run = startGpm(["self-upgrade", "--root", cal, "--feed", feed]);
    let flagAt = 0;
    let over = false;
    void run.done.then(() => (over = true));
    while (!over && !flagAt) {
      if (fs.existsSync(path.join(cal, ".upgrading"))) flagAt = Date.now();
      await sleep(1);
    }
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    flagToExitMs = Math.max(Date.now() - (flagAt || t0), 20);
    newState = await liveState(cal);
  });

  it("SIGKILL at random instants of the swap, then `gpm repair` alone: the tree whole, the flag down, exit 0, one line", async () => {
    let a = seed >>> 0;
    const rand = (): number => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const outcomes: string[] = [];
    for (let n = 0; n < ROUNDS; n++) {
      const delay = Math.floor(rand() * flagToExitMs);
      const root = await cloneSite(template, "gpm-repair-round-");
      const run = startGpm(["self-upgrade", "--root", root, "--feed", feed]);
      let over = false;
      void run.done.then(() => (over = true));
      while (!over && !fs.existsSync(path.join(root, ".upgrading"))) await sleep(1);
      await sleep(delay);
      run.child.kill("SIGKILL");
      const killed = (await run.done).signal === "SIGKILL";
      const flagLeft = fs.existsSync(path.join(root, ".upgrading"));

      const r = await runGpm(["repair", "--root", root]);
      assert.equal(r.code, 0, `round ${n} (seed ${seed}, ${delay} ms): ${r.stderr}`);
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines.length, 1, `one line: ${r.stdout}`);
      if (flagLeft) assert.match(lines[0]!, /^repaired an interrupted run: /, `round ${n}: ${lines[0]}`);
      assert.ok(!fs.existsSync(path.join(root, ".upgrading")), "the maintenance flag is down");
      const got = await liveState(root);
      const isOld = JSON.stringify(got) === JSON.stringify(oldState);
      const isNew = JSON.stringify(got) === JSON.stringify(newState);
      assert.ok(isOld || isNew, `round ${n} (seed ${seed}, ${delay} ms): neither wholly old nor new: ${stateDiff(got, oldState, 4)} / ${stateDiff(got, newState, 4)}`);
      assert.deepEqual(await userState(root), oldUser, "user/ byte-identical");
      // Nothing left for the next command to do.
      const status = await gpmStatus(root);
      assert.deepEqual(status.recovered, [], "repair left nothing to repair");
      await assertCleanState(root, status);
      const again = await runGpm(["repair", "--root", root, "--json"]);
      assert.equal(again.code, 0);
      assert.equal((JSON.parse(again.stdout) as { changed: boolean }).changed, false);
      outcomes.push(`${killed ? `kill +${delay} ms` : "finished"} → ${isOld ? "old" : "new"}`);
    }
    console.log(`      seed ${seed}: ${outcomes.join("; ")}`);
  });

  it("on a healthy root: `nothing to repair`, exit 0, nothing written", async () => {
    const root = await cloneSite(template, "gpm-repair-ok-");
    const before = await liveState(root);
    const r = await runGpm(["repair", "--root", root]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "nothing to repair: no interrupted run");
    assert.deepEqual(await liveState(root), before);
    assert.ok(!fs.existsSync(path.join(root, ".gpm")), "not even a lock was left");
  });
});
