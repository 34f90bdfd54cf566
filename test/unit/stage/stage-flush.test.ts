import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { openInstallation } from "../../../lib/install/installation.js";
import { loadFeed } from "../../../lib/stage/feed.js";
import { stageRelease } from "../../../lib/stage/stage.js";
import { silentLogger } from "../../../lib/util/log.js";
import { noProgress } from "../../../lib/util/progress.js";
import { makeFeed, makeSite, tmpDir } from "../../helpers/fixtures.js";

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

describe("stage/stage: flushing the stage to disk", () => {
  it("stages without `sync` (or php) on PATH and leaves no timer behind to keep the process alive", async () => {
    const root = await tmpDir();
    const feedDir = await tmpDir();
    const emptyBin = await tmpDir();
    await makeSite(root, "1.7.48");
    await makeFeed(feedDir, [{ version: "1.8.0" }]);
    const inst = await openInstallation({ root, feed: path.join(feedDir, "releases.json") });
    const [release] = await loadFeed(inst.config.feed, { log: silentLogger });
    const before = timers();
    const oldPath = process.env.PATH;
    process.env.PATH = emptyBin;
    let stage;
    try {
      stage = await stageRelease(inst, release!, { from: "1.7.48", log: silentLogger, progress: noProgress });
    } finally {
      process.env.PATH = oldPath;
    }
    assert.equal(stage.manifest.status, "staged", "a missing sync is skipped, not an error");
    assert.ok((await fsp.readdir(stage.packageDir)).includes("system"));
    // spawn's own `timeout` option leaves a live timer when the spawn fails
    // (ENOENT): that kept gpm running for two minutes after it had finished.
    assert.equal(timers(), before, "no timer left running");
  });

  it("flushes twice: once when the user/ copy is done (while extraction may still run), once before the manifest", async () => {
    const root = await tmpDir();
    const feedDir = await tmpDir();
    const bin = await tmpDir();
    const calls = path.join(bin, "calls.log");
    // A `sync` that records each call (its arguments, and whether the manifest existed yet).
    await fsp.writeFile(path.join(bin, "sync"), `#!/bin/sh\necho "$* manifest=$(ls "$2"/manifest.json 2>/dev/null | wc -l)" >> ${JSON.stringify(calls)}\n`, { mode: 0o755 });
    await makeSite(root, "1.7.48");
    await makeFeed(feedDir, [{ version: "1.8.0" }]);
    const inst = await openInstallation({ root, feed: path.join(feedDir, "releases.json") });
    const [release] = await loadFeed(inst.config.feed, { log: silentLogger });
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    let stage;
    try {
      stage = await stageRelease(inst, release!, { from: "1.7.48", log: silentLogger, progress: noProgress });
    } finally {
      process.env.PATH = oldPath;
    }
    const lines = (await fsp.readFile(calls, "utf8")).trim().split("\n");
    assert.deepEqual(lines, [`-f ${stage.dir} manifest=0`, `-f ${stage.dir} manifest=0`]);
  });
});
