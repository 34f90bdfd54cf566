/**
 * The two ways an entry is written: small entries (up to SMALL_ENTRY_MAX,
 * compressed and declared) are read, inflated and written in one synchronous
 * go; larger ones are streamed. Each must unpack the same bytes, and refuse
 * the same lies, as the other.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import { extractArchive, SMALL_ENTRY_MAX, type ExtractOptions } from "../../../lib/stage/extract.js";
import { Exit } from "../../../lib/util/errors.js";
import { silentLogger } from "../../../lib/util/log.js";
import { noProgress } from "../../../lib/util/progress.js";
import { tmpDir, treeState } from "../../helpers/fixtures.js";
import { file, rawZip, writeRawZip, type RawEntry } from "../../helpers/raw-zip.js";
import { listing, rejectsGpm } from "./helpers.js";

const sha = (b: Buffer): string => crypto.createHash("sha256").update(b).digest("hex");
const limits = (o: Partial<ExtractOptions> = {}): ExtractOptions => ({ maxFiles: 1000, maxUnpackedBytes: 200 * 1024 * 1024, progress: noProgress, log: silentLogger, ...o });
/** Compressible content of `n` bytes (cheap to deflate, so a big entry costs little in a test). */
const text = (n: number, seed = "gpm"): Buffer => Buffer.alloc(n, `${seed} line of text\n`);

/** Extract `entries`; on refusal check exit 6, `reason`, and that nothing is left beside the zip. */
async function refused(entries: RawEntry[] | Buffer, reason: RegExp): Promise<void> {
  const parent = await tmpDir();
  const zip = path.join(parent, "a.zip");
  if (Buffer.isBuffer(entries)) await fsp.writeFile(zip, entries);
  else await writeRawZip(zip, entries);
  const before = await treeState(parent);
  await rejectsGpm(extractArchive(zip, path.join(parent, "out"), limits()), Exit.INTEGRITY, reason);
  assert.deepEqual(await treeState(parent), before, "the destination is removed, nothing else changed");
}

describe("stage/extract: small entries (one go) and large ones (streamed)", () => {
  it("unpacks stored and deflated entries on both sides of SMALL_ENTRY_MAX with the right bytes, hashes and modes", async () => {
    const d = await tmpDir();
    const zip = path.join(d, "r.zip");
    const big = text(SMALL_ENTRY_MAX + 4096, "big");
    const bigStored = crypto.randomBytes(SMALL_ENTRY_MAX + 1);
    const small = text(5000, "small");
    const storedSmall = Buffer.from("#!/bin/sh\necho stored\n");
    await writeRawZip(zip, [
      file("system/small.php", small),
      { ...file("bin/stored.sh", storedSmall, 0o755), method: 0 },
      file("system/empty.txt", ""),
      { ...file("system/empty-stored.txt", ""), method: 0 },
      file("system/assets/big.js", big, 0o640),
      { ...file("system/assets/big-stored.bin", bigStored), method: 0 },
      file("system/exactly-max.txt", text(SMALL_ENTRY_MAX, "max")),
    ]);
    const dest = path.join(d, "out");
    const res = await extractArchive(zip, dest, limits());

    const want: Record<string, [Buffer, number]> = {
      "bin/stored.sh": [storedSmall, 0o755],
      "system/assets/big-stored.bin": [bigStored, 0o644],
      "system/assets/big.js": [big, 0o640],
      "system/empty-stored.txt": [Buffer.alloc(0), 0o644],
      "system/empty.txt": [Buffer.alloc(0), 0o644],
      "system/exactly-max.txt": [text(SMALL_ENTRY_MAX, "max"), 0o644],
      "system/small.php": [small, 0o644],
    };
    assert.deepEqual(
      res.files,
      Object.entries(want).map(([p, [data, mode]]) => ({ path: p, sha256: sha(data), size: data.length, mode })),
    );
    for (const [p, [data, mode]] of Object.entries(want)) {
      assert.ok((await fsp.readFile(path.join(dest, p))).equals(data), `${p}: content`);
      assert.equal((await fsp.stat(path.join(dest, p))).mode & 0o7777, mode, `${p}: mode`);
    }
    assert.equal(res.bytes, Object.values(want).reduce((n, [data]) => n + data.length, 0));
  });

  it("gives every file its archive mode whatever the umask (set on the file only where the umask took bits away)", async () => {
    const d = await tmpDir();
    const zip = path.join(d, "r.zip");
    const modes = [0o644, 0o755, 0o640, 0o600, 0o777, 0o444];
    // Two files of each mode: the second one of a mode must come out right too.
    await writeRawZip(zip, modes.flatMap((m) => [file(`a/${m.toString(8)}-1`, "x", m), { ...file(`b/${m.toString(8)}-2`, "y", m), method: 0 as const }]));
    const old = process.umask(0o077);
    let res;
    try {
      res = await extractArchive(zip, path.join(d, "out"), limits());
    } finally {
      process.umask(old);
    }
    for (const f of res.files) {
      const m = parseInt(path.basename(f.path).split("-")[0]!, 8);
      assert.equal(f.mode, m, f.path);
      assert.equal((await fsp.stat(path.join(d, "out", f.path))).mode & 0o7777, m, `${f.path} on disk`);
    }
    assert.equal(res.files.length, modes.length * 2);
  });

  describe("a size the archive lies about is refused (exit 6) on both paths", () => {
    it("small, deflated, bigger than declared", () => refused([{ ...file("a.txt", text(100_000)), declaredSize: 10_000 }], /"a\.txt" holds more bytes than the 10000 it declares/));
    it("small, deflated, smaller than declared", () => refused([{ ...file("a.txt", text(10_000)), declaredSize: 100_000 }], /"a\.txt" holds 10000 bytes, not the 100000 it declares/));
    it("small, stored, smaller than declared", () => refused([{ ...file("s.txt", "0123456789"), method: 0, declaredSize: 20 }], /"s\.txt" holds 10 bytes, not the 20 it declares/));
    it("large (declared above the limit), bigger than declared", () =>
      refused([{ ...file("big.js", text(SMALL_ENTRY_MAX + 200_000)), declaredSize: SMALL_ENTRY_MAX + 100_000 }], new RegExp(`"big\\.js" holds more bytes than the ${SMALL_ENTRY_MAX + 100_000} it declares`)));
    it("large (declared above the limit), smaller than declared", () =>
      refused([{ ...file("big.js", text(SMALL_ENTRY_MAX + 1)), declaredSize: SMALL_ENTRY_MAX + 100_000 }], new RegExp(`"big\\.js" holds ${SMALL_ENTRY_MAX + 1} bytes, not the ${SMALL_ENTRY_MAX + 100_000} it declares`)));
    it("large compressed data declaring a small size (streamed, refused as it grows)", () =>
      refused([{ ...file("bomb.bin", crypto.randomBytes(SMALL_ENTRY_MAX + 1)), method: 0, declaredSize: 10 }], /"bomb\.bin" holds more bytes than the 10 it declares/));
  });

  describe("the bytes actually unpacked count against maxUnpackedBytes, not the declared ones", () => {
    async function bomb(entries: RawEntry[], max: number, at: string): Promise<void> {
      const parent = await tmpDir();
      const zip = path.join(parent, "a.zip");
      await writeRawZip(zip, entries);
      const re = new RegExp(`unpacks to more than limits\\.maxUnpackedBytes \\(${max}\\) bytes \\(at "${at}"\\)`);
      await rejectsGpm(extractArchive(zip, path.join(parent, "out"), limits({ maxUnpackedBytes: max })), Exit.INTEGRITY, re);
      assert.equal(fs.existsSync(path.join(parent, "out")), false);
    }
    // The declared total is exactly the limit, so only counting what comes out refuses these.
    it("small path", () => bomb([file("a", text(600)), { ...file("b", text(5000)), declaredSize: 400 }], 1000, "b"));
    it("streamed path", () => bomb([{ ...file("big", text(SMALL_ENTRY_MAX + 200_000)), declaredSize: SMALL_ENTRY_MAX + 100_000 }], SMALL_ENTRY_MAX + 100_000, "big"));
  });

  describe("a corrupt small entry is refused (exit 6)", () => {
    it("a local header without its signature", () => {
      const buf = rawZip([file("a.txt", "hello")]);
      buf.writeUInt32LE(0xdeadbeef, 0);
      return refused(buf, /corrupt archive: entry "a\.txt" has no valid local header/);
    });

    it("data that runs past the end of the archive", () => {
      const buf = rawZip([file("a.txt", "hello")]);
      const cd = buf.readUInt32LE(buf.length - 22 + 16);
      buf.writeUInt32LE(500_000, cd + 20); // compressed size in the central directory
      return refused(buf, /corrupt archive: entry "a\.txt" overflows the archive/);
    });

    it("deflate data that does not inflate", () => {
      const buf = rawZip([file("a.txt", "hello hello hello")]);
      buf[30 + "a.txt".length] = 0xff; // block type 3: invalid
      return refused(buf, /corrupt archive: entry "a\.txt" does not inflate/);
    });

    it("a streamed entry whose data runs past the end of the archive", () => {
      const buf = rawZip([file("big.js", text(SMALL_ENTRY_MAX + 10))]);
      const cd = buf.readUInt32LE(buf.length - 22 + 16);
      buf.writeUInt32LE(buf.readUInt32LE(cd + 20) + 100_000, cd + 20);
      return refused(buf, /corrupt archive .*overflows/);
    });

    it("a streamed entry whose deflate data is cut short", () => {
      const buf = rawZip([file("big.js", text(SMALL_ENTRY_MAX + 10)), file("after.txt", "x")]);
      const cd = buf.readUInt32LE(buf.length - 22 + 16);
      buf.writeUInt32LE(buf.readUInt32LE(cd + 20) - 5, cd + 20); // the central directory says 5 bytes fewer
      return refused(buf, /corrupt archive .*unexpected end of file/);
    });

    it("a stored entry whose CRC-32 does not match", () => refused([{ ...file("s.txt", "stored"), method: 0, crc: 42 }], /"s\.txt" fails its CRC-32 check/));
  });

  it("extracts many small files (across several slices of the synchronous loop), reporting progress to the end", async () => {
    const d = await tmpDir();
    const zip = path.join(d, "many.zip");
    const entries = Array.from({ length: 1500 }, (_, i) => file(`${i % 2 ? "vendor" : "system"}/p${i % 30}/src/F${i}.php`, `<?php // ${i}\n${"x".repeat(i % 700)}`));
    await writeRawZip(zip, entries);
    const seen: number[] = [];
    const res = await extractArchive(zip, path.join(d, "out"), limits({ maxFiles: 2000, progress: () => ({ update: (n) => seen.push(n), stop() {} }) }));
    assert.equal(res.files.length, 1500);
    assert.equal(seen.at(-1), 1500);
    assert.deepEqual([...seen].sort((a, b) => a - b), seen, "progress only moves forward");
    const sample = res.files.find((f) => f.path === "vendor/p7/src/F1237.php");
    assert.equal(sample?.sha256, sha(await fsp.readFile(path.join(d, "out", "vendor/p7/src/F1237.php"))));
    assert.equal((await listing(path.join(d, "out"))).filter((p) => p.endsWith(".php")).length, 1500);
  });

  it("stops between slices when asked while writing (the stage aborts it when the user/ copy fails), leaving nothing", async () => {
    const d = await tmpDir();
    const zip = path.join(d, "many.zip");
    await writeRawZip(zip, Array.from({ length: 1500 }, (_, i) => file(`${i % 2 ? "vendor" : "system"}/p${i % 30}/F${i}.php`, `<?php // ${i}\n`)));
    const ac = new AbortController();
    const reason = new Error("user/ copy failed");
    let reported = -1;
    // Progress is reported as the loop yields to the event loop; abort from there, mid-way.
    const progress = () => ({ update: (n: number) => (reported === -1 && n > 0 ? (reported = n, ac.abort(reason)) : undefined), stop() {} });
    await assert.rejects(extractArchive(zip, path.join(d, "out"), limits({ maxFiles: 2000, progress, signal: ac.signal })), (err) => err === reason);
    assert.ok(reported > 0 && reported < 1500, `aborted part-way (after ${reported} files)`);
    assert.equal(fs.existsSync(path.join(d, "out")), false, "the destination is removed");
  });
});
