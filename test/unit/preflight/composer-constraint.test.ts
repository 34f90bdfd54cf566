import assert from "node:assert/strict";
import { GpmError, Exit } from "../../../lib/util/errors.js";
import {
  parseConstraint,
  parseVersion,
  satisfies,
  intersects,
  conflictsWith,
  isBranchOnly,
  complementRanges,
  formatRanges,
} from "../../../lib/preflight/composer-constraint.js";

/** Assert each version is (or is not) admitted by the constraint. */
function admits(constraint: string, yes: string[], no: string[]): void {
  for (const v of yes) assert.equal(satisfies(v, constraint), true, `${v} should satisfy ${constraint}`);
  for (const v of no) assert.equal(satisfies(v, constraint), false, `${v} should not satisfy ${constraint}`);
}

describe("preflight/composer-constraint", () => {
  describe("versions", () => {
    it("normalizes like Composer: v prefix, missing parts, stability names", () => {
      assert.deepEqual(parseVersion("v1.2"), { kind: "numeric", version: { nums: [1, 2, 0, 0], stability: 4, stabilityNums: [], dev: false }, explicitStability: false });
      const rc = parseVersion("1.0.0-RC2");
      assert.ok(rc?.kind === "numeric" && rc.version.stability === 3 && rc.version.stabilityNums[0] === 2);
      const b = parseVersion("2.1b3");
      assert.ok(b?.kind === "numeric" && b.version.stability === 2 && b.version.stabilityNums[0] === 3);
      assert.deepEqual(parseVersion("dev-master"), { kind: "branch", name: "dev-master" });
      assert.deepEqual(parseVersion("master"), { kind: "branch", name: "dev-master" });
      assert.equal(parseVersion("not a version"), null);
    });

    it("orders pre-releases dev < alpha < beta < RC < stable < patch", () => {
      admits(">1.0.0-dev", ["1.0.0-alpha1"], []);
      admits(">1.0.0-alpha2", ["1.0.0-beta1"], ["1.0.0-alpha1"]);
      admits(">1.0.0-beta9", ["1.0.0-RC1"], ["1.0.0-beta1"]);
      admits(">1.0.0-RC3", ["1.0.0"], ["1.0.0-RC2"]);
      admits(">1.0.0", ["1.0.0-patch1", "1.0.1-beta1"], ["1.0.0", "1.0.0-RC9"]);
      admits("<1.0.0-beta2", ["1.0.0-beta1", "1.0.0-beta2-dev"], ["1.0.0-beta2", "1.0.0-RC1"]);
    });
  });

  describe("forms", () => {
    it("exact versions: 1.2.3, =1.2.3, ==1.2.3, v1.2", () => {
      admits("1.2.3", ["1.2.3", "v1.2.3", "1.2.3.0"], ["1.2.4", "1.2.3-beta1", "1.2.3-patch1"]);
      admits("=1.2.3", ["1.2.3"], ["1.2.2"]);
      admits("==1.2.3", ["1.2.3"], ["1.3"]);
      admits("v1.2", ["1.2.0", "1.2"], ["1.2.1"]);
    });

    it("comparisons with space or comma as AND", () => {
      admits(">=1.0 <2.0", ["1.0.0", "1.9.99", "1.0.0-beta1"], ["0.9", "2.0.0", "2.0.0-beta1"]);
      admits(">=1.0,<2.0", ["1.5"], ["2.0"]);
      admits(">=1.0, <2.0", ["1.5"], ["2.1"]);
      admits(">= 1.0 < 2.0", ["1.5"], ["2.0"]);
      admits(">1.0 <=2.0", ["1.0.1", "2.0.0", "2.0.0-RC1"], ["1.0.0", "2.0.1"]);
    });

    it("OR with || and single |", () => {
      admits("^1.0 || ^3.0", ["1.5.0", "3.0.0"], ["2.0.0", "4.0.0"]);
      admits("1.0|2.0", ["1.0", "2.0"], ["1.5"]);
      admits("<1.0 || >=2.0 <2.5", ["0.9", "2.4.9"], ["1.5", "2.5"]);
    });

    it("caret ^1.2.3 up to the next major, with the ^0.x special cases", () => {
      admits("^1.2.3", ["1.2.3", "1.9.0"], ["1.2.2", "2.0.0", "2.0.0-alpha1"]);
      admits("^0.3", ["0.3.0", "0.3.9"], ["0.4.0", "0.2.9"]);
      admits("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]);
      admits("^0", ["0.0.1", "0.99"], ["1.0.0"]);
      admits("^1.2.3-beta1", ["1.2.3-beta1", "1.2.3"], ["1.2.3-alpha9"]);
    });

    it("tilde ~1.2 (next major) and ~1.2.3 (next minor)", () => {
      admits("~1.2", ["1.2.0", "1.9"], ["1.1.9", "2.0"]);
      admits("~1.2.3", ["1.2.3", "1.2.99"], ["1.3.0", "1.2.2"]);
      admits("~1", ["1.0", "1.9"], ["2.0"]);
    });

    it("wildcards 1.2.* and *", () => {
      admits("1.2.*", ["1.2.0", "1.2.99", "1.2.0-beta1"], ["1.3.0", "1.1.9"]);
      admits("1.*", ["1.0", "1.99.1"], ["2.0", "0.9"]);
      admits("*", ["0.0.1", "99.0", "dev-master"], []);
    });

    it("hyphen ranges: partial upper end is exclusive of the next, full one inclusive", () => {
      admits("1.0 - 2.0", ["1.0.0", "2.0.5"], ["0.9", "2.1.0"]);
      admits("1.0 - 2.0.0", ["2.0.0"], ["2.0.1"]);
      admits("1 - 2", ["2.9"], ["3.0"]);
    });

    it("!= and <> exclude one version", () => {
      admits("!=1.5", ["1.4", "1.5.1", "1.5.0-beta1"], ["1.5.0"]);
      admits("<>1.5", ["1.6"], ["1.5"]);
      admits(">=1.0 !=1.5 <2.0", ["1.4", "1.6"], ["1.5", "2.0"]);
    });

    it("ignores @dev / @stable flags, aliases and #refs", () => {
      admits("^1.0@dev", ["1.0.0", "1.5"], ["2.0"]);
      admits("1.2.*@stable", ["1.2.3"], ["1.3"]);
      admits("@dev", ["5.0"], []);
      admits("dev-main#abc123", ["dev-main"], ["1.0"]);
    });

    it("branch constraints match only that branch, never a number, and do not throw", () => {
      admits("dev-master", ["dev-master"], ["1.0.0", "dev-main"]);
      admits("dev-master as 1.0.0", ["dev-master"], ["1.0.0"]);
      assert.equal(isBranchOnly("dev-master"), true);
      assert.equal(isBranchOnly("^1.0"), false);
      admits("1.0.x-dev", ["1.0.x-dev"], ["1.1.0"]);
    });

    it("refuses malformed constraints with exit 1 naming the constraint", () => {
      for (const bad of ["", "foo bar", "^", ">=", "~>1.2", "1.0 ||", "^1.0 <<2"]) {
        assert.throws(
          () => parseConstraint(bad),
          (err: unknown) => err instanceof GpmError && err.code === Exit.ERROR && err.message.includes(`"${bad}"`),
          bad,
        );
      }
      assert.throws(() => satisfies("banana", "^1.0"), /"banana" is not a version/);
    });
  });

  describe("set operations", () => {
    it("intersects() tells whether two constraints admit a common version", () => {
      assert.equal(intersects("^1.0", "^1.5"), true);
      assert.equal(intersects("^1.0", "^2.0"), false);
      assert.equal(intersects("<2.0", ">=2.0"), false);
      assert.equal(intersects("<=2.0", ">=2.0"), true);
      assert.equal(intersects("!=1.5", "1.5"), false);
      assert.equal(intersects("^1.0 || ^3.0", "<3"), true);
      assert.equal(intersects("^3.0", "<3"), false);
      assert.equal(intersects("dev-master", "*"), true);
      assert.equal(intersects("dev-master", "^1.0"), false);
    });

    it("complement of a range set is exact", () => {
      assert.equal(formatRanges(complementRanges(parseConstraint("<3").ranges)), ">=3.0.0.0-dev");
      assert.equal(formatRanges(complementRanges(parseConstraint("^1.0 || ^3.0").ranges)), "<1.0.0.0-dev || >=2.0.0.0-dev <3.0.0.0-dev || >=4.0.0.0-dev");
      assert.equal(formatRanges(complementRanges(parseConstraint("*").ranges)), "(nothing)");
      assert.equal(formatRanges(complementRanges(parseConstraint("!=1.5").ranges)), ">=1.5.0.0 <=1.5.0.0");
    });

    it("the brief's example: a plugin on psr/log ^1.0 against a release that ships psr/log 3", () => {
      assert.equal(satisfies("3.0.0", "^1.0"), false, "the plugin's constraint does not admit the shipped version");
      assert.equal(conflictsWith("^1.0", "<3"), true);
      assert.equal(satisfies("3.0.0", "^1.0 || ^3.0"), true);
      assert.equal(conflictsWith("^1.0 || ^3.0", "<3"), false);
      assert.equal(conflictsWith(">=1.0", "<3"), false, "an open-ended requirement also admits 3.x");
      assert.equal(conflictsWith("~2.0 || 1.*", "<3"), true);
      assert.equal(conflictsWith("dev-master", "<3"), false, "a branch cannot be judged, so it is not a conflict");
    });
  });
});
