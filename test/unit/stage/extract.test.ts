import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import { extractArchive, unsafeNameReason, type ExtractOptions } from "../../../lib/stage/extract.js";
import { Exit } from "../../../lib/util/errors.js";
import { silentLogger } from "../../../lib/util/log.js";
import { noProgress } from "../../../lib/util/progress.js";
import { makeZip, releaseTree, tmpDir, treeState } from "../../helpers/fixtures.js";
import { dir, file, symlink, writeRawZip, S_FILE, type RawEntry } from "../../helpers/raw-zip.js";
import { listing, rejectsGpm } from "./helpers.js";

const sha = (s: string | Buffer): string => crypto.createHash("sha256").update(s).digest("hex");
const limits = (o: Partial<ExtractOptions> = {}): ExtractOptions => ({ maxFiles: 1000, maxUnpackedBytes: 100 * 1024 * 1024, progress: noProgress, log: silentLogger, ...o });

describe("stage/extract: a release archive", () => {
  it("strips a single wrapping folder, keeps modes (bin/grav executable) and hashes every file as written", async () => {
    const d = await tmpDir();
    const zip = path.join(d, "release.zip");
    await makeZip(zip, releaseTree("1.8.0"), { wrap: "grav-update" });
    const dest = path.join(d, "stage", "package");
    const calls: number[] = [];
    const res = await extractArchive(zip, dest, limits({ progress: () => ({ update: (n) => calls.push(n), stop() {} }) }));

    assert.deepEqual(res.entries, [".htaccess", "CHANGELOG.md", "bin", "cache", "composer.json", "index.php", "logs", "robots.txt", "system", "user", "vendor"]);
    assert.equal(fs.existsSync(path.join(dest, "grav-update")), false);
    assert.equal((await fsp.stat(path.join(dest, "bin/grav"))).mode & 0o777, 0o755);
    assert.equal((await fsp.stat(path.join(dest, "index.php"))).mode & 0o777, 0o644);
    const defines = res.files.find((f) => f.path === "system/defines.php");
    assert.ok(defines);
    const content = await fsp.readFile(path.join(dest, "system/defines.php"));
    assert.equal(defines.sha256, sha(content));
    assert.equal(defines.size, content.length);
    assert.equal(res.files.find((f) => f.path === "bin/grav")?.mode, 0o755);
    assert.equal(res.bytes, res.files.reduce((n, f) => n + f.size, 0));
    assert.deepEqual(res.files.map((f) => f.path), [...res.files.map((f) => f.path)].sort());
    assert.equal(calls.at(-1), res.files.length, "progress counted in files");
  });

  it("does not strip when there is more than one top-level entry, or the single one is a file", async () => {
    const d = await tmpDir();
    await writeRawZip(path.join(d, "a.zip"), [file("grav/a.txt", "a"), file("other.txt", "o")]);
    const a = await extractArchive(path.join(d, "a.zip"), path.join(d, "a"), limits());
    assert.deepEqual(a.entries, ["grav", "other.txt"]);
    await writeRawZip(path.join(d, "b.zip"), [file("README", "r")]);
    const b = await extractArchive(path.join(d, "b.zip"), path.join(d, "b"), limits());
    assert.deepEqual(b.entries, ["README"]);
  });

  it("masks setuid/setgid/sticky, defaults modes, and keeps an inside-tree symlink as a link", async () => {
    const d = await tmpDir();
    const zip = path.join(d, "r.zip");
    await writeRawZip(zip, [
      file("bin/tool", "#!/bin/sh\n", 0o6755),
      { name: "plain.txt", data: "x", mode: 0 }, // no unix mode (e.g. a zip made on Windows)
      dir("ro"),
      { name: "ro2/", mode: 0o040555 },
      file("ro2/inner.txt", "in"),
      symlink("system/current", "../bin/tool"),
      file("system/x.php", "<?php"),
    ]);
    const dest = path.join(d, "out");
    const res = await extractArchive(zip, dest, limits());
    assert.equal((await fsp.stat(path.join(dest, "bin/tool"))).mode & 0o7777, 0o755);
    assert.equal((await fsp.stat(path.join(dest, "plain.txt"))).mode & 0o7777, 0o644);
    assert.equal((await fsp.stat(path.join(dest, "ro"))).mode & 0o7777, 0o755);
    assert.equal((await fsp.stat(path.join(dest, "ro2"))).mode & 0o7777, 0o755, "read-only folder keeps r-x for group/other, owner keeps rwx");
    assert.equal(await fsp.readlink(path.join(dest, "system/current")), "../bin/tool");
    assert.deepEqual(res.links, [{ path: "system/current", target: "../bin/tool" }]);
    assert.ok(!res.files.some((f) => f.path === "system/current"), "links are not in the file list");
  });

  it("refuses a file that is not a zip (exit 6) and leaves no destination", async () => {
    const d = await tmpDir();
    await fsp.writeFile(path.join(d, "x.zip"), "this is not a zip archive at all, just text");
    await rejectsGpm(extractArchive(path.join(d, "x.zip"), path.join(d, "out"), limits()), Exit.INTEGRITY, /not a valid zip/);
    assert.equal(fs.existsSync(path.join(d, "out")), false);
  });

  it("refuses a corrupt entry (CRC-32 mismatch)", async () => {
    const d = await tmpDir();
    await writeRawZip(path.join(d, "c.zip"), [{ ...file("a.txt", "hello"), crc: 1234 }]);
    await rejectsGpm(extractArchive(path.join(d, "c.zip"), path.join(d, "out"), limits()), Exit.INTEGRITY, /"a\.txt" fails its CRC-32 check/);
    assert.equal(fs.existsSync(path.join(d, "out")), false);
  });

  it("refuses to extract into a folder that is not empty, and leaves it alone", async () => {
    const d = await tmpDir();
    await writeRawZip(path.join(d, "a.zip"), [file("a.txt", "a")]);
    await fsp.mkdir(path.join(d, "out"));
    await fsp.writeFile(path.join(d, "out", "keep"), "k");
    await rejectsGpm(extractArchive(path.join(d, "a.zip"), path.join(d, "out"), limits()), Exit.ERROR, /not an empty folder/);
    assert.equal(await fsp.readFile(path.join(d, "out", "keep"), "utf8"), "k");
  });

  it("unsafeNameReason judges names without touching the disk", () => {
    assert.equal(unsafeNameReason("system/src/Grav.php"), null);
    assert.equal(unsafeNameReason("..a/b..c/.hidden"), null);
    assert.match(unsafeNameReason("a/../b") ?? "", /"\.\."/);
    assert.match(unsafeNameReason("./a") ?? "", /"\."/);
    assert.match(unsafeNameReason("a\u0085b") ?? "", /control/);
  });
});

describe("stage/extract: hostile archives are refused (exit 6) and nothing is written outside", () => {
  const evilName = `gpm-evil-${process.pid}-${Date.now()}`;
  const cases: { title: string; entries: () => RawEntry[]; reason: RegExp; opts?: Partial<ExtractOptions> }[] = [
    { title: "a ../ path", entries: () => [file("ok.txt", "ok"), file(`../${evilName}`, "pwned")], reason: /"\.\." segment/ },
    { title: "a deeper ../ path", entries: () => [file(`a/b/../../../${evilName}`, "pwned")], reason: /"\.\." segment/ },
    { title: "an absolute path", entries: () => [file(`/tmp/${evilName}`, "pwned")], reason: /absolute path/ },
    { title: "a drive letter", entries: () => [file(`C:/${evilName}`, "pwned")], reason: /drive letter/ },
    { title: "a backslash", entries: () => [file(`..\\${evilName}`, "pwned")], reason: /backslash/ },
    { title: "a control character", entries: () => [file("a\u0001b.txt", "x")], reason: /control character/ },
    { title: "a NUL byte", entries: () => [file(Buffer.from("a\u0000b.txt", "latin1"), "x")], reason: /control character/ },
    { title: "a DEL character", entries: () => [file("a\u007f", "x")], reason: /control character/ },
    { title: "an empty path segment", entries: () => [file("a//b.txt", "x")], reason: /empty path segment/ },
    { title: "a duplicate entry", entries: () => [file("system/a.php", "one"), file("system/a.php", "two")], reason: /duplicate/ },
    { title: "a file and a folder of the same name", entries: () => [file("a", "one"), dir("a")], reason: /duplicate/ },
    { title: "case-colliding paths", entries: () => [file("a/B.txt", "1"), file("a/b.txt", "2")], reason: /collides with/ },
    { title: "case-colliding folders", entries: () => [file("Sys/x", "1"), file("sys/y", "2")], reason: /collides with/ },
    { title: "names that differ only in Unicode form", entries: () => [file("caf\u00e9", "nfc"), file("cafe\u0301", "nfd")], reason: /collides with/ },
    { title: "a symlink to /etc", entries: () => [symlink("etc", "/etc")], reason: /absolute path/ },
    { title: "a symlink to ../../x", entries: () => [file("sub/a", "a"), symlink("sub/l", "../../x")], reason: /outside the tree/ },
    { title: "a symlink to .. at the top", entries: () => [symlink("up", "..")], reason: /outside the tree/ },
    { title: "a file beneath a symlink (link -> sub, then link/x)", entries: () => [dir("sub"), symlink("link", "sub"), file("link/x", "pwned")], reason: /beneath the symlink/ },
    { title: "a file beneath a symlink listed after it (link -> .., then link/x)", entries: () => [file("link/x", "pwned"), symlink("link", "..")], reason: /beneath the symlink|outside the tree/ },
    { title: "a symlink that escapes through another symlink", entries: () => [symlink("deep/er/l1", "../../top"), symlink("deep/er/l2", "l1/../../x"), dir("top")], reason: /through another symlink/ },
    { title: "a file beneath a file", entries: () => [file("f", "file"), file("f/x", "x")], reason: /beneath the file/ },
    { title: "a device entry", entries: () => [{ name: "dev", data: "", mode: 0o020666 }], reason: /not a file, folder or symlink/ },
    { title: "a zip bomb (50 MB of zeros, 1 MB allowed)", entries: () => [file("zeros.bin", Buffer.alloc(50 * 1024 * 1024))], reason: /maxUnpackedBytes/, opts: { maxUnpackedBytes: 1024 * 1024 } },
    {
      title: "a zip bomb that lies about its size",
      entries: () => [{ ...file("small.txt", Buffer.alloc(8 * 1024 * 1024)), declaredSize: 10 }],
      reason: /holds more bytes than the 10 it declares|maxUnpackedBytes/,
      opts: { maxUnpackedBytes: 1024 * 1024 },
    },
    { title: "a stored entry that lies about its size", entries: () => [{ ...file("s.txt", "0123456789"), method: 0, declaredSize: 4 }], reason: /more bytes than the 4|holds/ },
    { title: "too many files", entries: () => Array.from({ length: 6 }, (_, i) => file(`f${i}.txt`, "x")), reason: /maxFiles/, opts: { maxFiles: 5 } },
  ];

  for (const c of cases) {
    it(`refuses ${c.title}`, async () => {
      const parent = await tmpDir();
      const zip = path.join(parent, "archive.zip");
      await writeRawZip(zip, c.entries());
      await fsp.mkdir(path.join(parent, "stage"));
      const before = await treeState(parent);
      const tmpBefore = (await fsp.readdir("/tmp")).filter((n) => n.includes(evilName));

      const err = await rejectsGpm(extractArchive(zip, path.join(parent, "stage", "package"), limits(c.opts)), Exit.INTEGRITY, c.reason);
      assert.match(err.message, /^unsafe archive|^corrupt archive/);

      assert.deepEqual(await treeState(parent), before, "the parent folder is exactly as before (destination removed)");
      assert.deepEqual(await listing(path.join(parent, "stage")), []);
      assert.deepEqual((await fsp.readdir("/tmp")).filter((n) => n.includes(evilName)), tmpBefore, "nothing appeared in /tmp");
      assert.equal(fs.existsSync(path.join("/", evilName)), false);
      assert.equal(fs.existsSync(path.join(path.dirname(parent), evilName)), false);
    });
  }

  it("refuses a declared total above the limit before writing anything", async () => {
    const parent = await tmpDir();
    const zip = path.join(parent, "a.zip");
    await writeRawZip(zip, [{ ...file("big", "x"), declaredSize: 5 * 1024 * 1024, crc: 0 }]);
    await rejectsGpm(extractArchive(zip, path.join(parent, "out"), limits({ maxUnpackedBytes: 1024 * 1024 })), Exit.INTEGRITY, /declares 5242880 unpacked bytes/);
    assert.equal(fs.existsSync(path.join(parent, "out")), false);
  });

  it("accepts exactly maxFiles entries", async () => {
    const parent = await tmpDir();
    const zip = path.join(parent, "a.zip");
    await writeRawZip(zip, Array.from({ length: 5 }, (_, i) => ({ name: `f${i}.txt`, data: "x", mode: S_FILE | 0o644 })));
    const res = await extractArchive(zip, path.join(parent, "out"), limits({ maxFiles: 5 }));
    assert.equal(res.files.length, 5);
  });
});
