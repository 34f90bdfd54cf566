/**
 * Small entries on worker threads (extract-worker.ts): the same bytes, hashes,
 * modes and refusals as on the main thread, and a failure or a stop in one
 * batch ends every worker before the destination is removed.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { extractArchive, SMALL_ENTRY_MAX, type ExtractOptions, type ExtractResult } from "../../../lib/stage/extract.js";
import { fromWorkerError, toWorkerError } from "../../../lib/util/worker-task.js";
import { Exit, GpmError, integrity } from "../../../lib/util/errors.js";
import { silentLogger, type Logger } from "../../../lib/util/log.js";
import { noProgress } from "../../../lib/util/progress.js";
import { tmpDir, treeState, useTmpfs } from "../../helpers/fixtures.js";
import { file, writeRawZip, type RawEntry } from "../../helpers/raw-zip.js";
import { rejectsGpm } from "./helpers.js";

const limits = (o: Partial<ExtractOptions> = {}): ExtractOptions => ({ maxFiles: 5000, maxUnpackedBytes: 200 * 1024 * 1024, progress: noProgress, log: silentLogger, ...o });

/** A release-like list: many small files in nested folders, some executable, some stored, one streamed. */
function release(n: number): RawEntry[] {
  const out: RawEntry[] = [];
  for (let i = 0; i < n; i++) {
    const body = `<?php // file ${i}\n${"return [".repeat(1 + (i % 40))}\n`;
    if (i % 97 === 0) out.push({ ...file(`bin/tool${i}`, body, 0o755), method: 0 });
    else out.push(file(`${i % 3 ? "vendor" : "system"}/p${i % 25}/src/F${i}.php`, body, i % 11 ? 0o644 : 0o600));
  }
  out.push(file("system/assets/bundle.js", Buffer.alloc(SMALL_ENTRY_MAX + 1000, "bundle;\n")));
  return out;
}

async function extractWith(entries: RawEntry[], workers: number | undefined, log: Logger = silentLogger): Promise<{ res: ExtractResult; out: string }> {
  const d = await tmpDir();
  const zip = path.join(d, "r.zip");
  await writeRawZip(zip, entries);
  const out = path.join(d, "out");
  const res = await extractArchive(zip, out, limits({ log, ...(workers === undefined ? {} : { workers }) }));
  return { res, out };
}

describe("stage/extract: small entries on worker threads", () => {
  it("unpacks the same tree (bytes, modes, hashes, sizes) with 0, 1, 2 and 3 workers", async () => {
    const entries = release(1200);
    const inline = await extractWith(entries, 0);
    const want = await treeState(inline.out);
    assert.equal(inline.res.files.length, 1201);
    for (const workers of [1, 2, 3]) {
      const got = await extractWith(entries, workers);
      assert.deepEqual(got.res, inline.res, `result with ${workers} workers`);
      assert.deepEqual(await treeState(got.out), want, `tree with ${workers} workers`);
    }
  });

  it("uses workers by default for a release-sized archive on a machine with more than one core", async function () {
    if (os.availableParallelism() < 2) this.skip();
    const seen: Record<string, unknown>[] = [];
    const log = { ...silentLogger, debug: (obj: unknown) => void seen.push(obj as Record<string, unknown>) } as unknown as Logger;
    await extractWith(release(600), undefined, log);
    const done = seen.find((o) => o && typeof o === "object" && "workers" in o);
    assert.ok(done && (done.workers as number) >= 2, `extracted with ${String(done?.workers)} workers`);
    seen.length = 0;
    await extractWith(release(100), undefined, log);
    assert.equal(seen.find((o) => o && typeof o === "object" && "workers" in o)?.workers, 0, "a small archive stays on the main thread");
  });

  for (const [what, bad, reason] of [
    ["a CRC-32 that does not match", { crc: 42 }, /"vendor\/p9\/src\/F934\.php" fails its CRC-32 check/],
    ["more bytes than declared", { declaredSize: 3 }, /"vendor\/p9\/src\/F934\.php" holds more bytes than the 3 it declares/],
  ] as const) {
    it(`refuses an entry deep in the archive with ${what}: exit 6 naming it, nothing left`, async () => {
      const entries = release(1500);
      const i = entries.findIndex((e) => e.name === "vendor/p9/src/F934.php");
      entries[i] = { ...entries[i]!, ...bad };
      const d = await tmpDir();
      const zip = path.join(d, "r.zip");
      await writeRawZip(zip, entries);
      const before = await treeState(d);
      await rejectsGpm(extractArchive(zip, path.join(d, "out"), limits({ workers: 2 })), Exit.INTEGRITY, reason);
      assert.deepEqual(await treeState(d), before, "the destination is removed");
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(fs.existsSync(path.join(d, "out")), false, "no worker writes after the error");
    });
  }

  it("a stop asked for mid-way ends every worker: rejects with the reason, nothing written afterwards", async () => {
    const d = await tmpDir();
    const zip = path.join(d, "r.zip");
    await writeRawZip(zip, release(3000));
    const ac = new AbortController();
    const reason = new Error("user/ copy failed");
    let at = -1;
    const progress = () => ({ update: (n: number) => (at === -1 && n > 0 ? ((at = n), ac.abort(reason)) : undefined), stop() {} });
    await assert.rejects(extractArchive(zip, path.join(d, "out"), limits({ workers: 2, progress, signal: ac.signal })), (err) => err === reason);
    assert.ok(at > 0 && at < 3001, `stopped part-way (after ${at})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(fs.existsSync(path.join(d, "out")), false, "the destination is removed and stays removed");
  });

  describe("a system error in a worker (a full tmpfs)", () => {
    const tmpfs = useTmpfs("1m");

    it("is the disk's fault (exit 1 naming ENOSPC), and nothing is left", async () => {
      const d = await tmpDir();
      const zip = path.join(d, "r.zip");
      // ~1,500 files of ~2 KB: more than the 1 MB file system holds, without the streamed entry.
      await writeRawZip(zip, release(1500).slice(0, -1).map((e) => ({ ...e, data: Buffer.alloc(2048, String(e.data)) })));
      const mnt = tmpfs();
      await rejectsGpm(extractArchive(zip, path.join(mnt, "out"), limits({ workers: 2 })), Exit.ERROR, /extracting r\.zip failed: ENOSPC/);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(await fsp.readdir(mnt), [], "the destination is removed");
    });
  });

  it("carries an error across the thread boundary as it was: a GpmError keeps exit code, message and hint; a system error its errno", () => {
    const sys = fromWorkerError(toWorkerError(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })));
    assert.ok(!(sys instanceof GpmError));
    assert.deepEqual([sys.message, (sys as { code?: string }).code], ["ENOSPC: no space left on device, write", "ENOSPC"]);
    const gpm = fromWorkerError(toWorkerError(integrity("unsafe archive: x", "hint")));
    assert.ok(gpm instanceof GpmError);
    assert.deepEqual([gpm.code, gpm.message, gpm.hint], [Exit.INTEGRITY, "unsafe archive: x", "hint"]);
  });
});
