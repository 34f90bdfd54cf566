import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { runGpm, treeState } from "../helpers/fixtures.js";
import { buildSites } from "../helpers/sites.js";
import { cloneSite, liveState, gpmStatus, assertCleanState, startGpm, waitForFile, pauseMarker, type State } from "./crash-fixtures.js";

/**
 * Issue 4, the lock: `.gpm/lock` is created exclusively with pid, host and
 * start time; a second gpm that would change anything exits 5 naming the
 * holder and since when; a dead holder's lock (same host, pid gone) is taken
 * over with a warning; read-only commands neither need it nor touch a live
 * run's journal.
 */
describe("e2e: the lock", function () {
  this.timeout(300_000);
  let feed = "";
  let t0 = "";
  let t0State: State;
  let newState: State;

  before(async () => {
    let ref: string;
    ({ feed, T0: t0, T1: ref } = await buildSites({ prefix: "gpm-lock-", upgraded: true }));
    t0State = await liveState(t0);
    newState = await liveState(ref);
  });

  /** A pid that surely belonged to a process that is gone now. */
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
    await new Promise((r) => child.on("close", r));
    return child.pid!;
  }

  async function writeLock(root: string, body: string): Promise<void> {
    await fsp.mkdir(path.join(root, ".gpm"), { recursive: true });
    await fsp.writeFile(path.join(root, ".gpm/lock"), body);
  }

  it("while an upgrade holds the lock: writers exit 5 naming the holder; readers work and leave its journal alone", async () => {
    const root = await cloneSite(t0);
    const holder = startGpm(["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed], { GPM_TEST_PAUSE_AT: "upgrade:moves-applied" });
    const marker = pauseMarker(root, "upgrade:moves-applied");
    await waitForFile(marker, holder);
    const pid = holder.child.pid!;
    const holderLine = new RegExp(`another gpm holds the lock: pid ${pid} on ${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(self-upgrade\\) since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z`);
    try {
      const journalBefore = await fsp.readFile(path.join(root, ".gpm/journal.json"), "utf8");
      for (const args of [["self-upgrade", "--version", "1.8.0", "--feed", feed], ["rollback"]]) {
        const r = await runGpm([...args, "--root", root]);
        assert.equal(r.code, 5, `${args[0]}: ${r.stderr}`);
        assert.match(r.stderr.trim().split("\n").pop()!, holderLine, `${args[0]} names the holder and since when, on one line`);
      }
      // Read-only commands: no lock needed, and they must not "repair" the live run's journal.
      const s = await gpmStatus(root);
      assert.deepEqual(s.recovered, []);
      assert.ok(s.pendingTransaction, "status shows the run in progress");
      assert.ok(s.maintenance, "status shows maintenance ON");
      assert.equal((s.lock as { pid: number }).pid, pid, "status names the holder");
      for (const args of [["snapshots"], ["version"], ["self-upgrade", "--check", "--feed", feed]]) {
        const r = await runGpm([...args, "--root", root]);
        assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      }
      assert.equal(await fsp.readFile(path.join(root, ".gpm/journal.json"), "utf8"), journalBefore, "the live run's journal is untouched");
      assert.ok(await fsp.lstat(path.join(root, ".upgrading")), "the live run's maintenance flag is untouched");
    } finally {
      await fsp.rm(marker, { force: true });
    }
    const done = await holder.done;
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(await liveState(root), newState, "the holder finished its upgrade undisturbed");
    await assertCleanState(root, await gpmStatus(root));
  });

  it("a lock whose process is gone (same host) is taken over with a warning", async () => {
    const root = await cloneSite(t0);
    const pid = await deadPid();
    await writeLock(root, JSON.stringify({ pid, host: os.hostname(), startedAt: "2020-01-01T00:00:00.000Z", command: "self-upgrade" }));
    const r = await runGpm(["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`warn: taking over a stale lock of pid ${pid}`));
    assert.deepEqual(await liveState(root), newState);
    await assert.rejects(fsp.lstat(path.join(root, ".gpm/lock")), "released at the end");
  });

  it("a torn lock (created, never written) counts as stale", async () => {
    const root = await cloneSite(t0);
    await writeLock(root, "");
    const r = await runGpm(["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /taking over a stale lock/);
  });

  it("a live holder on this host, or any holder on another host, is never taken over: exit 5, nothing changed", async () => {
    for (const [host, pid, label] of [
      [os.hostname(), process.pid, "a live process here"],
      ["some-other-host.example", 1, "another host"],
    ] as const) {
      const root = await cloneSite(t0);
      const lock = JSON.stringify({ pid, host, startedAt: "2025-10-17T23:53:48.000Z", command: "rollback" });
      await writeLock(root, lock);
      const before = await treeState(root);
      for (const args of [["self-upgrade", "--version", "1.8.0", "--feed", feed], ["rollback"]]) {
        const r = await runGpm([...args, "--root", root]);
        assert.equal(r.code, 5, `${label}, ${args[0]}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`pid ${pid} on ${host.replace(/\./g, "\\.")} \\(rollback\\) since 2025-10-17T23:53:48.000Z`));
      }
      assert.deepEqual(await treeState(root), before, `${label}: nothing changed, the lock file included`);
      assert.equal(await fsp.readFile(path.join(root, ".gpm/lock"), "utf8"), lock);
    }
  });

  it("two gpm racing for the same stale lock: exactly one gets it, the other exits 5", async () => {
    const root = await cloneSite(t0);
    await writeLock(root, JSON.stringify({ pid: await deadPid(), host: os.hostname(), startedAt: "2020-01-01T00:00:00.000Z", command: "self-upgrade" }));
    const env = { GPM_TEST_PAUSE_AT: "lock:acquired" };
    const args = ["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed];
    const a = startGpm(args, env);
    const b = startGpm(args, env);
    const marker = pauseMarker(root, "lock:acquired");
    // The winner pauses holding the lock; the loser must give up on its own (a second winner would pause too).
    const loser = await Promise.race([a.done.then((r) => ({ r, other: b })), b.done.then((r) => ({ r, other: a }))]);
    assert.equal(loser.r.code, 5, loser.r.stderr);
    assert.match(loser.r.stderr, /another gpm holds the lock/);
    await waitForFile(marker, loser.other);
    await fsp.rm(marker, { force: true });
    const won = await loser.other.done;
    assert.equal(won.code, 0, won.stderr);
    assert.deepEqual(await liveState(root), newState);
  });

  it("read-only commands on a healthy root write nothing, not even a lock", async () => {
    const root = await cloneSite(t0);
    const before = await treeState(root);
    for (const args of [["status"], ["snapshots"], ["version"], ["self-upgrade", "--check", "--feed", feed]]) {
      const r = await runGpm([...args, "--root", root]);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    }
    assert.deepEqual(await treeState(root), before);
    assert.deepEqual(await liveState(root), t0State);
  });
});
