import assert from "node:assert/strict";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { GPM_BIN, makeFeed, makeSite, tmpDir } from "../helpers/fixtures.js";

const execFileP = promisify(execFile);

/**
 * Progress bars (SPEC section 4: on a TTY, for download, extract, snapshot),
 * on stderr, through a real pseudo-terminal (`script` from util-linux). The
 * bar library is loaded only when the first bar is drawn.
 */
describe("e2e: progress on a terminal", function () {
  this.timeout(120_000);

  it("draws download, extract and snapshot bars to the end on a TTY, and none with --json", async function () {
    try {
      await execFileP("script", ["--version"]);
    } catch {
      console.log("      skipped: no `script` (util-linux) to give gpm a terminal");
      this.skip();
    }
    const base = await tmpDir();
    const feed = await makeFeed(path.join(base, "feed"), [{ version: "1.8.0" }]);
    const upgradeOnTty = async (site: string, flag: string): Promise<string> => {
      const root = path.join(base, site);
      await makeSite(root, "1.7.48");
      const cmd = [process.execPath, GPM_BIN, "self-upgrade", "--root", root, "--feed", feed, flag].map((a) => `'${a}'`).join(" ");
      return (await execFileP("script", ["-qec", cmd, "/dev/null"], { env: { ...process.env, TERM: "xterm" } })).stdout.replace(/\r/g, "\n");
    };
    const tty = await upgradeOnTty("a", "--yes");
    for (const bar of ["download", "extract", "snapshot"]) assert.match(tty, new RegExp(`${bar} +\\[.*\\] 100% \\|`), `${bar} bar drawn to the end`);
    assert.match(tty, /upgraded 1\.7\.48 → 1\.8\.0/);
    // A log line written while bars are drawn goes above them, on a line of its own (not `… 3011/3011 filesgpm info: …`).
    // On the screen: a cursor move up/down/to column 1 or a line clear starts a line; other escapes draw nothing.
    const esc = String.fromCharCode(27);
    const plain = tty.replace(new RegExp(`${esc}\\[(?:[0-9;]*[ABEFGH]|[12]K)`, "g"), "\n").replace(new RegExp(`${esc}\\[[0-9;?]*[A-Za-z]`, "g"), "");
    const glued = plain.split("\n").filter((l) => /.gpm (info|warn|error):/.test(l));
    assert.deepEqual(glued, [], "a log line was written into a progress bar");
    assert.match(plain, /^gpm info: swapped \d+ core entries/m, "the log line kept its start");
    assert.match(plain, /^gpm info: smoke check running… \(at most \d+ s\)/m, "the screen says the smoke check is running");
    const json = await upgradeOnTty("b", "--json");
    assert.match(json, /"to": "1\.8\.0"/, "the --json run upgraded too");
    assert.doesNotMatch(json, /\[.*\] \d+% \|/, "no bar with --json");
  });
});
