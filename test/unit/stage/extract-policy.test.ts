/**
 * The entry policy on plain values, without a zip: what a release archive may
 * hold is decided here, so each rule is checked on its own (the zip tests in
 * extract*.test.ts check that the driver applies them and leaves nothing).
 */
import assert from "node:assert/strict";
import { Exit } from "../../../lib/util/errors.js";
import {
  checkDeclaredBytes,
  checkEntryCount,
  checkLinkSize,
  checkLinkTarget,
  checkMoreEntries,
  checkStructure,
  judgeEntry,
  stripWrapper,
  unsafeNameReason,
  wrappingFolder,
  type CentralEntry,
  type PlanEntry,
} from "../../../lib/stage/extract-policy.js";
import { throwsGpm } from "./helpers.js";

const FILE = 0o100644 << 16;
const DIR = 0o040755 << 16;
const LINK = 0o120777 << 16;
const central = (name: string, o: Partial<CentralEntry> = {}): CentralEntry => ({ name, externalFileAttributes: name.endsWith("/") ? DIR : FILE, uncompressedSize: 1, compressionMethod: 8, encrypted: false, ...o });
const plan = (...entries: [string, PlanEntry["kind"], string?][]): PlanEntry[] =>
  entries.map(([name, kind, target]) => ({ name, segments: name.replace(/\/$/, "").split("/"), kind, mode: kind === "dir" ? 0o755 : 0o644, ...(target === undefined ? {} : { target }) }));

describe("stage/extract-policy (no zip)", () => {
  describe("names", () => {
    for (const [name, reason] of [
      ["", /empty name/],
      ["a/../b", /"\.\." segment/],
      ["./a", /"\." segment/],
      ["a//b", /empty path segment/],
      ["/etc/passwd", /absolute path/],
      ["C:/x", /drive letter/],
      ["a\\b", /backslash/],
      ["a\u0007b", /control character/],
      ["a\u0085b", /control character/],
      ["bad\uFFFD", /not valid UTF-8/],
      [`${"x".repeat(256)}/f`, /longer than 255 bytes/],
      [Array.from({ length: 49 }, () => "d").join("/"), /deeper than 48/],
      [Array.from({ length: 9 }, () => "y".repeat(120)).join("/"), /longer than 1024 bytes/],
    ] as const) {
      it(`refuses ${JSON.stringify(name.slice(0, 30))}`, () => assert.match(unsafeNameReason(name) ?? "", reason));
    }
    it("accepts an ordinary name, and UTF-8", () => {
      assert.equal(unsafeNameReason("system/src/Grav/Common/Grav.php"), null);
      assert.equal(unsafeNameReason("user/pages/01.accueil/défaut.md"), null);
    });
  });

  describe("one entry", () => {
    it("classifies files, folders and links with the owner's bits kept", () => {
      assert.deepEqual(judgeEntry(central("a/b.txt", { externalFileAttributes: 0o100200 << 16 })), { name: "a/b.txt", segments: ["a", "b.txt"], kind: "file", mode: 0o600 });
      assert.deepEqual(judgeEntry(central("a/", { externalFileAttributes: 0o040500 << 16 })), { name: "a/", segments: ["a"], kind: "dir", mode: 0o700 });
      assert.equal(judgeEntry(central("l", { externalFileAttributes: LINK })).kind, "link");
      // No Unix mode (a zip made on Windows): the defaults.
      assert.equal(judgeEntry(central("f", { externalFileAttributes: 0 })).mode, 0o644);
      // setuid, setgid and sticky are never kept.
      assert.equal(judgeEntry(central("f", { externalFileAttributes: 0o106755 << 16 })).mode, 0o755);
    });
    for (const [what, e, reason] of [
      ["an unsafe name, naming the entry as stored", central("../x"), /entry "\.\.\/x" has a "\.\." segment/],
      ["an encrypted entry", central("a", { encrypted: true }), /"a" is encrypted/],
      ["an unknown compression method", central("a", { compressionMethod: 12 }), /compression method 12/],
      ["a symlink with a folder name", central("l/", { externalFileAttributes: LINK }), /symlink with a folder name/],
      ["a folder with content", central("d", { externalFileAttributes: DIR, uncompressedSize: 5 }), /folder with content/],
      ["a fifo", central("p", { externalFileAttributes: 0o010644 << 16 }), /not a file, folder or symlink/],
      ["a device", central("dev", { externalFileAttributes: 0o020644 << 16 }), /not a file, folder or symlink/],
    ] as const) {
      it(`refuses ${what}: exit 6`, () => void throwsGpm(() => judgeEntry(e), Exit.INTEGRITY, reason));
    }
  });

  describe("limits", () => {
    it("refuses more entries than limits.maxFiles, stated or counted", () => {
      checkEntryCount(10, 10);
      throwsGpm(() => checkEntryCount(11, 10), Exit.INTEGRITY, /11 entries, more than limits\.maxFiles \(10\)/);
      checkMoreEntries(9, 10);
      throwsGpm(() => checkMoreEntries(10, 10), Exit.INTEGRITY, /more than limits\.maxFiles \(10\) entries/);
    });
    it("refuses declared sizes over limits.maxUnpackedBytes", () => {
      checkDeclaredBytes(100, 100);
      throwsGpm(() => checkDeclaredBytes(101, 100), Exit.INTEGRITY, /declares 101 unpacked bytes/);
    });
    it("refuses a link target too long to read", () => {
      const [l] = plan(["l", "link"]);
      checkLinkSize(l!, 4096, 100);
      throwsGpm(() => checkLinkSize(l!, 4097, 100), Exit.INTEGRITY, /overlong target/);
      throwsGpm(() => checkLinkSize(l!, 10, 8193), Exit.INTEGRITY, /overlong target/);
    });
  });

  describe("the whole plan", () => {
    it("finds and strips one wrapping folder, and only then", () => {
      const wrapped = plan(["grav/", "dir"], ["grav/index.php", "file"], ["grav/system/x", "file"]);
      assert.equal(wrappingFolder(wrapped), "grav");
      assert.deepEqual(stripWrapper(wrapped).plan.map((p) => p.segments.join("/")), ["index.php", "system/x"]);
      assert.equal(wrappingFolder(plan(["grav/a", "file"], ["other/b", "file"])), null);
      assert.equal(wrappingFolder(plan(["grav", "file"])), null, "a lone file is not a wrapper");
      assert.equal(stripWrapper(plan(["a", "file"], ["b/c", "file"])).wrapper, null);
    });
    it("lists every folder, implied ones too, parents first", () => {
      const { dirs, links } = checkStructure(plan(["a/b/c.txt", "file"], ["z/", "dir"], ["a/l", "link", "b"]));
      assert.deepEqual(dirs, ["a", "z", "a/b"]);
      assert.deepEqual([...links], ["a/l"]);
    });
    for (const [what, p, reason] of [
      ["a duplicate", plan(["a/x", "file"], ["a/x", "file"]), /"a\/x" is a duplicate of "a\/x"/],
      ["a folder given twice (with and without its slash)", plan(["d/", "dir"], ["d", "dir"]), /is a duplicate/],
      ["an entry beneath a file", plan(["a", "file"], ["a/b", "file"]), /"a\/b" is beneath the file "a"/],
      ["an entry beneath a symlink", plan(["l", "link", "x"], ["l/b", "file"]), /"l\/b" is beneath the symlink "l"/],
      ["names that differ only in case", plan(["README.md", "file"], ["readme.md", "file"]), /collides with "README\.md" \(names differ only in case/],
      ["a file whose name is a folder's in another case", plan(["Sys/a", "file"], ["sys", "file"]), /collides/],
      ["names that differ only in Unicode form", plan(["caf\u00e9", "file"], ["cafe\u0301", "file"]), /Unicode form/],
    ] as const) {
      it(`refuses ${what}`, () => void throwsGpm(() => checkStructure([...p]), Exit.INTEGRITY, reason));
    }
  });

  describe("link targets", () => {
    const links = new Set(["a/l", "b/inner"]);
    const link = (name: string, target: string): PlanEntry => plan([name, "link", target])[0]!;
    it("accepts a target that stays inside, relative to the link's folder", () => {
      checkLinkTarget(link("a/b/l", "../../c/d"), links);
      checkLinkTarget(link("a/m", "./l"), links);
      checkLinkTarget(link("a/m", "l"), links);
    });
    for (const [what, l, reason] of [
      ["an empty target", link("x", ""), /empty target/],
      ["an absolute target", link("x", "/etc/passwd"), /absolute path \("\/etc\/passwd"\)/],
      ["a drive letter", link("x", "C:/x"), /absolute path/],
      ["a target that climbs out", link("a/x", "../../etc"), /points outside the tree/],
      ["a target through another link", link("c/x", "../a/l/../../.."), /points through another symlink/],
      ["a backslash", link("x", "a\\b"), /backslash/],
      ["a control character", link("x", "a\nb"), /control character/],
    ] as const) {
      it(`refuses ${what}`, () => void throwsGpm(() => checkLinkTarget(l, links), Exit.INTEGRITY, reason));
    }
  });
});
