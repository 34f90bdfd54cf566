import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir } from "../../helpers/fixtures.js";
import { runProcess, describeFailure } from "../../../lib/promote/run-process.js";

/** Invariant 9 for the smoke check and postUpgrade: every wait on a process has a deadline. */

/** Running (a zombie nobody reaped yet — pid 1 in a container may never — is dead). */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

describe("promote/runProcess: deadlines", function () {
  const strays: number[] = [];
  after(() => {
    for (const pid of strays) if (alive(pid)) process.kill(pid, "SIGKILL");
  });

  it("a command that leaves a child holding its output (setsid sleep 300 &) is not waited for: its own exit code counts", async () => {
    const dir = await tmpDir();
    const out = await runProcess(["sh", "-c", `setsid sleep 300 & echo $! > ${path.join(dir, "pid")}; echo smoke ok`], { cwd: dir, timeoutMs: 20_000 });
    const pid = Number(await fsp.readFile(path.join(dir, "pid"), "utf8"));
    strays.push(pid);
    assert.ok(alive(pid), "the escaped child still holds the pipe, so a wait for EOF would have hung");
    assert.equal(out.exitCode, 0);
    assert.equal(out.timedOut, false);
    assert.match(out.output, /smoke ok/);
    assert.equal(describeFailure("smoke check", ["sh"], out, 20_000), null);
  });

  it("at the deadline the whole process group is killed and reading stops, even with an escaped child holding the output", async () => {
    const dir = await tmpDir();
    const script = `setsid sleep 300 & echo $! > ${path.join(dir, "stray")}; sleep 300 & echo $! > ${path.join(dir, "inner")}; echo waiting; wait`;
    const out = await runProcess(["sh", "-c", script], { cwd: dir, timeoutMs: 1500 });
    strays.push(Number(await fsp.readFile(path.join(dir, "stray"), "utf8")));
    const inner = Number(await fsp.readFile(path.join(dir, "inner"), "utf8"));
    assert.equal(out.timedOut, true);
    assert.match(out.output, /waiting/);
    assert.match(describeFailure("smoke check", ["sh", "-c", "…"], out, 1500) ?? "", /did not finish within 2s/);
    // SIGKILL to the group is delivered before runProcess returns; give the kernel a moment to reap.
    for (let i = 0; i < 50 && alive(inner); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(inner), false, "the check's own children die with it");
  });

  it("a command that cannot start says why", async () => {
    const out = await runProcess(["/nonexistent/gpm-smoke"], { cwd: "/", timeoutMs: 5000 });
    assert.match(describeFailure("smoke check", ["/nonexistent/gpm-smoke"], out, 5000) ?? "", /could not start: spawn \/nonexistent\/gpm-smoke ENOENT/);
  });
});
