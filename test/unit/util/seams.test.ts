import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { REPO } from "../../helpers/fixtures.js";
import { parseSeams } from "../../../lib/util/seams.js";

describe("test seams (lib/util/seams.ts)", () => {
  it("are inert when no GPM_TEST_* variable is set", () => {
    const s = parseSeams({ PATH: "/usr/bin", GPM_ROOT: "/srv/site" });
    assert.equal(s.killAt.size, 0);
    assert.equal(s.pauseAt.size, 0);
    assert.equal(s.killAfterMoves, null);
    assert.equal(s.failRename, null);
    assert.equal(s.exdev, false);
  });

  it("parse every variable once into one frozen object", () => {
    const s = parseSeams({
      GPM_TEST_KILL_AT: "stage:downloaded,upgrade:undo-move#2",
      GPM_TEST_PAUSE_AT: "lock:acquired",
      GPM_TEST_KILL_AFTER_MOVES: "3",
      GPM_TEST_FAIL_RENAME: "2",
      GPM_TEST_EXDEV: "1",
    });
    assert.deepEqual([...s.killAt], ["stage:downloaded", "upgrade:undo-move#2"]);
    assert.deepEqual([...s.pauseAt], ["lock:acquired"]);
    assert.equal(s.killAfterMoves, 3);
    assert.equal(s.failRename, 2);
    assert.equal(s.exdev, true);
    assert.ok(Object.isFrozen(s));
  });

  it("nothing in lib/ but seams.ts reads a GPM_TEST_* variable", async () => {
    const offenders: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.name.endsWith(".ts") && p !== path.join(REPO, "lib/util/seams.ts") && /env\.GPM_TEST_|env\[["']GPM_TEST_/.test(await fsp.readFile(p, "utf8"))) offenders.push(path.relative(REPO, p));
      }
    };
    await walk(path.join(REPO, "lib"));
    assert.deepEqual(offenders, []);
  });
});
