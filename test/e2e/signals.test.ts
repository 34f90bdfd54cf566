import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { runGpm, treeState } from "../helpers/fixtures.js";
import { buildSites } from "../helpers/sites.js";
import { cloneSite, liveState, userState, gpmStatus, assertCleanState, startGpm, waitForFile, pauseMarker, sleep, type State } from "./crash-fixtures.js";

/**
 * Issue 4, signals: SIGINT/SIGTERM never stop gpm mid-step. During promote or
 * rollback the current step finishes, the transaction is undone, the lock is
 * released and gpm exits 130 (INT) or 143 (TERM); during staging it just
 * cleans up. The pause seam (GPM_TEST_PAUSE_AT) holds the real CLI at a known
 * step while the test sends the signal.
 */
describe("e2e: SIGINT and SIGTERM", function () {
  this.timeout(300_000);
  let feed = "";
  let t0 = "";
  let t1 = "";
  let t0State: State;
  let t0User: State;
  let t1State: State;

  before(async () => {
    ({ feed, T0: t0, T1: t1 } = await buildSites({ prefix: "gpm-signals-", upgraded: true }));
    t0State = await liveState(t0);
    t0User = await userState(t0);
    t1State = await liveState(t1);
  });

  /** Start `args` paused at `steps` (comma list); at each pause, `act` runs, then the pause ends. */
  async function interrupt(root: string, args: string[], steps: string[], act: (step: string, pid: number) => Promise<void>) {
    const run = startGpm([...args, "--root", root], { GPM_TEST_PAUSE_AT: steps.join(",") });
    for (const step of steps) {
      const marker = pauseMarker(root, step);
      await waitForFile(marker, run);
      await act(step, run.child.pid!);
      await sleep(50); // the signal is pending in the child before it moves on
      await fsp.rm(marker, { force: true });
    }
    return run.done;
  }

  const lastLine = (s: string): string => s.trim().split("\n").pop() ?? "";

  async function assertNothingToRepair(root: string): Promise<void> {
    const s = await gpmStatus(root);
    assert.deepEqual(s.recovered, [], "the interrupted run cleaned up itself: nothing left for recovery");
    await assertCleanState(root, s);
    await assert.rejects(fsp.lstat(path.join(root, ".gpm/lock")), "the lock was released");
  }

  it("SIGINT after the swap: the smoke check finishes, the swap is undone, exit 130", async () => {
    const root = await cloneSite(t0);
    const r = await interrupt(root, ["self-upgrade", "--version", "1.8.0", "--feed", feed], ["upgrade:moves-applied"], async (_s, pid) => {
      assert.ok(await fsp.lstat(path.join(root, ".upgrading")), "paused inside the maintenance window");
      process.kill(pid, "SIGINT");
    });
    assert.equal(r.code, 130, r.stderr);
    assert.match(lastLine(r.stderr), /^error: .*interrupted by SIGINT/);
    await assert.rejects(fsp.lstat(path.join(root, ".gpm/lock")), "lock released before exit");
    assert.deepEqual(await liveState(root), t0State, "the tree is the old one");
    assert.deepEqual(await userState(root), t0User);
    const ids = (await fsp.readdir(path.join(root, "snapshots"))).filter((n) => n !== ".htaccess");
    const m = JSON.parse(await fsp.readFile(path.join(root, "snapshots", ids[0]!, "manifest.json"), "utf8")) as { status: string; error: string };
    assert.equal(m.status, "failed");
    assert.match(m.error, /SIGINT/);
    await assertNothingToRepair(root);
  });

  it("SIGTERM with the maintenance flag up, before the moves: undone, exit 143", async () => {
    const root = await cloneSite(t0);
    const r = await interrupt(root, ["self-upgrade", "--version", "1.8.0", "--feed", feed], ["upgrade:flag-raised"], async (_s, pid) => {
      process.kill(pid, "SIGTERM");
    });
    assert.equal(r.code, 143, r.stderr);
    assert.match(lastLine(r.stderr), /^error: .*interrupted by SIGTERM/);
    assert.deepEqual(await liveState(root), t0State);
    await assertNothingToRepair(root);
  });

  it("SIGTERM during a rollback: the swap is undone, exit 143, the snapshot still usable", async () => {
    const root = await cloneSite(t1);
    const r = await interrupt(root, ["rollback"], ["rollback:flag-raised"], async (_s, pid) => {
      process.kill(pid, "SIGTERM");
    });
    assert.equal(r.code, 143, r.stderr);
    assert.match(lastLine(r.stderr), /interrupted by SIGTERM/);
    assert.deepEqual(await liveState(root), t1State, "1.8.0 is still live, whole");
    await assertNothingToRepair(root);
    const again = await runGpm(["rollback", "--root", root]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await liveState(root), t0State, "the rollback works when run again");
  });

  it("SIGINT while staging: the stage is removed, nothing changed, exit 130", async () => {
    const root = await cloneSite(t0);
    const before = await treeState(root);
    const r = await interrupt(root, ["self-upgrade", "--version", "1.8.0", "--feed", feed], ["stage:extracted"], async (_s, pid) => {
      process.kill(pid, "SIGINT");
    });
    assert.equal(r.code, 130, r.stderr);
    assert.match(lastLine(r.stderr), /interrupted by SIGINT/);
    assert.deepEqual(await treeState(root), before, "byte for byte, no snapshot store, no .gpm/");
  });

  it("SIGTERM after the stage, before the swap: cleans up instead of promoting, exit 143", async () => {
    const root = await cloneSite(t0);
    const before = await treeState(root);
    const r = await interrupt(root, ["self-upgrade", "--version", "1.8.0", "--feed", feed], ["stage:manifest-written"], async (_s, pid) => {
      process.kill(pid, "SIGTERM");
    });
    assert.equal(r.code, 143, r.stderr);
    assert.doesNotMatch(r.stderr, /promoting/, "promote never began");
    assert.deepEqual(await treeState(root), before, "nothing changed, not even a record of an attempt");
  });

  it("a second signal during the undo is ignored: the undo completes, exit 130 (the first)", async () => {
    const root = await cloneSite(t0);
    const r = await interrupt(root, ["self-upgrade", "--version", "1.8.0", "--feed", feed], ["upgrade:moves-applied", "upgrade:undo-move"], async (step, pid) => {
      process.kill(pid, step === "upgrade:moves-applied" ? "SIGINT" : "SIGTERM");
    });
    assert.equal(r.code, 130, r.stderr);
    assert.deepEqual(await liveState(root), t0State);
    await assertNothingToRepair(root);
  });

  it("a signal after the new tree passed its checks (journal committed): the upgrade is finished, exit 0", async () => {
    const root = await cloneSite(t0);
    const r = await interrupt(root, ["self-upgrade", "--version", "1.8.0", "--feed", feed], ["upgrade:committed"], async (_s, pid) => {
      process.kill(pid, "SIGINT");
    });
    assert.equal(r.code, 0, r.stderr);
    const s = await gpmStatus(root);
    assert.equal(s.installed, "1.8.0");
    assert.deepEqual(s.recovered, []);
    await assertCleanState(root, s);
  });
});
