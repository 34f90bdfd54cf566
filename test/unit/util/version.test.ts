import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { tmpDir } from "../../helpers/fixtures.js";
import { phpVersionCompare, versioning } from "../../../lib/util/version.js";
import { GpmError } from "../../../lib/util/errors.js";

/** Grav's 344 real tags, sorted by PHP's version_compare (see the fixture's README). */
const TAGS_FILE = "/work/shared/fixtures/real/grav/tags-in-version-order.txt";

/** A deterministic shuffle (mulberry32), so a failure reproduces. */
function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let a = seed;
  const rnd = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("util/version: the php scheme (PHP's version_compare, Grav's ordering)", () => {
  it("sorts all real Grav tags, shuffled, into exactly the order of tags-in-version-order.txt", async () => {
    const tags = (await fsp.readFile(TAGS_FILE, "utf8")).split("\n").filter(Boolean);
    assert.equal(tags.length, 344);
    const v = versioning("php");
    for (const t of tags) assert.equal(v.clean(t), t, `${t} is a version under the php scheme`);
    for (const seed of [1, 2, 3]) {
      assert.deepEqual(v.sortDesc(shuffled(tags, seed), (t) => t).reverse(), tags);
    }
  });

  it("orders 4-part versions and pre-releases as Grav does", () => {
    const order = ["1.7.49", "1.7.49.4", "1.7.49.5", "1.7.50", "1.8.0-beta.9", "1.8.0-beta.10", "1.8.0-rc.1", "1.8.0", "1.8.0.1"];
    for (let i = 0; i + 1 < order.length; i++) assert.equal(phpVersionCompare(order[i]!, order[i + 1]!), -1, `${order[i]} < ${order[i + 1]}`);
    assert.equal(phpVersionCompare("1.8.0-beta.29", "1.8.0-beta29"), 0);
    assert.equal(phpVersionCompare("1.0", "1.0.0"), -1, "PHP: 1.0 < 1.0.0");
    assert.equal(phpVersionCompare("1.0.0-dev", "1.0.0-alpha"), -1);
    assert.equal(phpVersionCompare("1.0.0-pl1", "1.0.0"), 1);
  });

  it("reads v-prefixed tags and rejects what Grav could not have tagged", () => {
    const v = versioning("php");
    assert.equal(v.clean("v1.7.41.2"), "1.7.41.2");
    for (const bad of ["latest", "", "1.8.0-foo", "x1.0", "1..2", "1.0-"]) assert.equal(v.clean(bad), null, bad);
  });
});

describe("util/version: against PHP itself", () => {
  it("agrees with php's version_compare on every pair of odd versions (skipped without php on PATH)", async function () {
    try {
      execFileSync("php", ["-v"], { stdio: "ignore" });
    } catch {
      this.skip();
    }
    const list = ["1.0", "1.0.0", "1.0.0-dev", "1.0.0-alpha", "1.0.0a", "1.0.0-beta.2", "1.0.0b2", "1.0.0-RC1", "1.0.0rc.1", "1.0.0-pl1", "1.0.0p", "1.7.49.5", "1.7.49", "1.7.50", "1.8.0-beta.10", "1.8.0-beta.9", "2", "1.0.0-foo", "1.0.0.0", "10.0", "1.0-", "1..2", "1.0+b", "1.0.0_rc2"];
    const d = await tmpDir();
    const file = path.join(d, "v.json");
    await fsp.writeFile(file, JSON.stringify(list));
    const out = execFileSync("php", ["-r", 'foreach (json_decode(file_get_contents($argv[1])) as $a) foreach (json_decode(file_get_contents($argv[1])) as $b) echo version_compare($a, $b), "\n";', file], { encoding: "utf8" });
    const php = out.trim().split("\n").map(Number);
    const ours = list.flatMap((a) => list.map((b) => phpVersionCompare(a, b)));
    assert.deepEqual(ours, php);
  });
});

describe("util/version: the semver scheme", () => {
  it("orders by semver and refuses a 4-part version with a clear message (never a TypeError)", () => {
    const v = versioning("semver");
    assert.equal(v.clean("v1.8.0"), "1.8.0");
    assert.equal(v.clean("1.7.49.5"), null);
    assert.ok(v.gt("1.10.0", "1.9.0"));
    assert.throws(() => v.compare("1.7.49.4", "1.8.0"), (e: unknown) => e instanceof GpmError && /"1\.7\.49\.4" is not a semver version/.test(e.message));
  });
});
