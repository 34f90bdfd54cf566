import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { runGpm, treeState } from "../helpers/fixtures.js";
import { jsonDoc } from "../helpers/json.js";
import { buildSites } from "../helpers/sites.js";
import { cloneSite, liveState, userState, gpmStatus, assertCleanState, type State } from "./crash-fixtures.js";

/**
 * Issue 4, recovery on every start (DESIGN invariant 3): before a command
 * does its own work it undoes an interrupted journal (or finishes a committed
 * one), removes a dead run's maintenance flag and staged leftovers, and says
 * so in one log line; `gpm status` reports it; recovery itself can be killed
 * and run again until it is done.
 */
describe("e2e: recovery at the start of every command", function () {
  this.timeout(600_000);
  let feed = "";
  let t0 = "";
  let t1 = "";
  let t0State: State;
  let t0User: State;
  /**
   * A copy of T0 whose upgrade to 1.8.0 was SIGKILLed with every core entry swapped.
   * Each test crashes its own copy: the journal knows entries by inode, so a copy
   * of a crashed site is a different case (the last test).
   */
  async function crashedSite(): Promise<string> {
    const root = await cloneSite(t0);
    const r = await runGpm(["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed], { env: { GPM_TEST_KILL_AT: "upgrade:moves-applied" } });
    assert.equal(r.signal, "SIGKILL", r.stderr);
    return root;
  }

  before(async () => {
    ({ feed, T0: t0, T1: t1 } = await buildSites({ prefix: "gpm-recover-", releases: [{ version: "1.8.0" }, { version: "1.8.2" }], upgraded: true }));
    t0State = await liveState(t0);
    t0User = await userState(t0);
  });

  const repairLines = (stderr: string): string[] => stderr.split("\n").filter((l) => /repaired an interrupted run/.test(l));

  for (const [label, args] of [
    ["status", ["status"]],
    ["snapshots", ["snapshots"]],
    ["verify", ["verify"]],
    ["self-upgrade --check", ["self-upgrade", "--check", "--feed", "$FEED"]],
    ["preflight", ["preflight", "1.8.0", "--feed", "$FEED"]],
    ["self-upgrade (then does its own work)", ["self-upgrade", "--version", "1.8.0", "--feed", "$FEED"]],
  ] as const) {
    it(`${label}: undoes the interrupted upgrade first, in one log line`, async () => {
      const root = await crashedSite();
      const r = await runGpm([...args.map((a) => (a === "$FEED" ? feed : a)), "--root", root]);
      assert.ok(r.code === 0 || (label === "verify" && r.code === 1), `exit ${r.code}: ${r.stderr}`);
      const lines = repairLines(r.stderr);
      assert.equal(lines.length, 1, `one repair line: ${r.stderr}`);
      assert.match(lines[0]!, /^gpm warn: repaired an interrupted run: undid the interrupted upgrade 1\.7\.48 → 1\.8\.0 \(\S+\): the tree is as it was before it began/);
      if (label.startsWith("self-upgrade (")) {
        assert.ok(r.stderr.indexOf(lines[0]!) < r.stderr.indexOf("downloading"), "repaired before its own work");
        const s = await gpmStatus(root);
        assert.equal(s.installed, "1.8.0");
        await assertCleanState(root, s);
      } else {
        assert.deepEqual(await liveState(root), t0State, "the tree is wholly the old one");
        assert.deepEqual(await userState(root), t0User);
        const s = await gpmStatus(root);
        assert.deepEqual(s.recovered, [], "nothing left to repair");
        await assertCleanState(root, s);
      }
    });
  }

  it("`gpm status` reports what it repaired (text and --json)", async () => {
    const root = await crashedSite();
    const r = await runGpm(["status", "--root", root]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^repaired\s+repaired an interrupted run: undid the interrupted upgrade/m);
    assert.match(r.stdout, /^pending\s+none$/m);
    assert.match(r.stdout, /^maintenance\s+off$/m);
    const again = await crashedSite();
    const s = await gpmStatus(again);
    assert.equal(s.recovered.length, 1);
    assert.match(s.recovered[0]!, /undid the interrupted upgrade/);
    assert.equal(s.installed, "1.7.48");
  });

  it("a recovery killed after every single undo move still converges: each run goes further, the last one finishes", async () => {
    const root = await crashedSite();
    let runs = 0;
    for (;;) {
      runs++;
      assert.ok(runs < 40, "recovery does not converge");
      // Run k is killed at the k-th undo move: moves 1..k-1 are already back (no-ops), move k is its progress.
      const r = await runGpm(["status", "--root", root], { env: { GPM_TEST_KILL_AT: `upgrade:undo-move#${runs}` } });
      if (r.signal === "SIGKILL") continue;
      assert.equal(r.code, 0, r.stderr);
      break;
    }
    assert.ok(runs >= 10, `the undo had many moves to kill after (${runs} runs)`);
    assert.deepEqual(await liveState(root), t0State);
    assert.deepEqual(await userState(root), t0User);
    await assertCleanState(root, await gpmStatus(root));
  });

  it("an interrupted rollback is undone too: the tree before the rollback", async () => {
    const root = await cloneSite(t1);
    const k = await runGpm(["rollback", "--root", root], { env: { GPM_TEST_KILL_AT: "rollback:moves-applied" } });
    assert.equal(k.signal, "SIGKILL");
    const r = await runGpm(["rollback", "--root", root]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(repairLines(r.stderr)[0] ?? "", /undid the interrupted rollback 1\.8\.0 → 1\.7\.48/);
    assert.deepEqual(await liveState(root), t0State, "then the rollback itself ran, whole");
  });

  it("a dead run's maintenance flag, staged leftovers and torn journal temp files are removed, in the same one line", async () => {
    const root = await cloneSite(t0);
    const k = await runGpm(["self-upgrade", "--version", "1.8.0", "--root", root, "--feed", feed], { env: { GPM_TEST_KILL_AT: "stage:manifest-written" } });
    assert.equal(k.signal, "SIGKILL");
    await fsp.writeFile(path.join(root, ".upgrading"), JSON.stringify({ pid: 999999 }));
    await fsp.writeFile(path.join(root, ".gpm/journal.json.1234567"), '{"version":1,"kin');
    const r = await runGpm(["snapshots", "--root", root]);
    assert.equal(r.code, 0, r.stderr);
    const lines = repairLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /removed the maintenance flag \.upgrading left by a dead run; removed the unfinished stage \S+-1\.8\.0/);
    assert.match(r.stdout, /no snapshots/);
    const all = await treeState(root);
    assert.ok(!Object.keys(all).some((p) => p.startsWith(".gpm/journal")), "no journal, no temp file");
    assert.deepEqual(await liveState(root), t0State);
  });

  it("a corrupt journal stops every command that would act on it: exit 1, pointing to docs/RECOVERY.md, nothing changed", async () => {
    const root = await crashedSite();
    await fsp.writeFile(path.join(root, ".gpm/journal.json"), "{ torn");
    await fsp.rm(path.join(root, ".gpm/lock")); // the killed run's stale lock would be taken over (a change)
    const before = await treeState(root);
    for (const args of [["status"], ["rollback"], ["self-upgrade", "--version", "1.8.0", "--feed", feed]]) {
      const r = await runGpm([...args, "--root", root]);
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr.trim().split("\n").pop()!, /^error: .*journal\.json is corrupt — see docs\/RECOVERY\.md/);
    }
    assert.deepEqual(await treeState(root), before);
  });

  it("an interrupted upgrade never counts as installed: the next upgrade starts from the old tree and succeeds", async () => {
    const root = await crashedSite();
    const r = await runGpm(["self-upgrade", "--version", "1.8.2", "--root", root, "--feed", feed, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = jsonDoc(r.stdout) as { installed: string; manifest: { from: string; to: string }; recovered: string[] };
    assert.equal(out.installed, "1.7.48");
    assert.equal(out.manifest.from, "1.7.48");
    assert.equal(out.recovered.length, 1);
  });

  it("a crashed site copied elsewhere (every inode new): recovery refuses to guess — exit 7, recovery mode, nothing moved", async () => {
    const root = await cloneSite(await crashedSite());
    const before = await liveState(root);
    assert.notDeepEqual(before, t0State, "half-swapped");
    const r = await runGpm(["status", "--root", root]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr.trim().split("\n").pop()!, /^error: could not undo the interrupted upgrade .*cannot tell whether .* was moved.*copied or restored/);
    const after = await liveState(root);
    delete after["system/recovery.flag"];
    assert.deepEqual(after, before, "nothing was moved on a guess");
    const again = await runGpm(["status", "--json", "--root", root]);
    assert.equal(again.code, 7, "every command stops there until a person puts the entries back (docs/RECOVERY.md)");
  });
});
