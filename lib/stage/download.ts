/**
 * Download a release archive to `dest`, streaming: each chunk is hashed,
 * counted against `limits.maxDownloadBytes` and written before the next is
 * read, so no archive is ever held in memory. A file:// release is copied the
 * same way (same hash, same limits, same progress).
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import crypto from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { GpmError, errnoCode, errorMessage, fail, integrity } from "../util/errors.js";
import type { Logger } from "../util/log.js";
import type { ProgressFactory } from "../util/progress.js";
import { checkAbort } from "../util/signals.js";
import { httpGet } from "./http.js";
import type { Release } from "./types.js";

export interface DownloadOptions {
  maxBytes: number;
  progress: ProgressFactory;
  log: Logger;
  /** Stop early (the stage stops the download when its concurrent user/ copy fails). */
  signal?: AbortSignal;
}

const HINT = "check the feed and your network, then try again";

function tooLarge(maxBytes: number): GpmError {
  return integrity(`download exceeds limits.maxDownloadBytes (${maxBytes} bytes)`, "raise limits.maxDownloadBytes in gpm.json if this release is really that large");
}

/**
 * Stream `release.url` into `dest` (created exclusively: never overwrites),
 * returning the sha256 and size of the bytes actually received. On any
 * failure the partial file is removed.
 */
export async function downloadRelease(release: Release, dest: string, opts: DownloadOptions): Promise<{ sha256: string; size: number }> {
  const url = new URL(release.url);
  const what = `download of ${release.url}`;
  let source: AsyncIterable<Uint8Array>;
  let declaredLength: number | null = null;
  let cancel: () => Promise<void>;
  if (url.protocol === "file:") {
    let file: string;
    try {
      file = fileURLToPath(url);
    } catch {
      throw fail(`${what}: not a local file URL`, HINT);
    }
    let st: fs.Stats;
    try {
      st = await fsp.stat(file);
    } catch (err) {
      throw fail(`${what} failed: ${errnoCode(err) ?? err}`, HINT);
    }
    if (!st.isFile()) throw fail(`${what} failed: not a file`, HINT);
    declaredLength = st.size;
    const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    source = stream;
    cancel = async () => void stream.destroy();
  } else if (url.protocol === "http:" || url.protocol === "https:") {
    const res = await httpGet(url.href, what, HINT);
    const len = res.headers.get("content-length");
    if (len !== null && /^\d+$/.test(len)) declaredLength = Number(len);
    source = res.chunks();
    cancel = () => res.cancel();
  } else {
    throw integrity(`unsafe release url: ${url.protocol} is not allowed`, "only http(s) and file URLs can be downloaded");
  }
  if (declaredLength !== null && declaredLength > opts.maxBytes) {
    await cancel();
    throw tooLarge(opts.maxBytes);
  }

  const total = declaredLength ?? release.size ?? 0;
  const bar = opts.progress("download", total, "bytes");
  const hash = crypto.createHash("sha256");
  let size = 0;
  const counted = async function* (chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      checkAbort();
      if (opts.signal?.aborted) throw opts.signal.reason;
      size += chunk.byteLength;
      if (size > opts.maxBytes) throw tooLarge(opts.maxBytes);
      hash.update(chunk);
      bar.update(size);
      yield chunk;
    }
  };
  try {
    await pipeline(Readable.from(source, { objectMode: false }), counted, fs.createWriteStream(dest, { flags: "wx", mode: 0o644 }));
    if (release.size !== null && release.size !== size) {
      throw integrity(`download of ${release.version} is ${size} bytes, the feed says ${release.size}`, "the download is corrupt or was tampered with; nothing was installed");
    }
  } catch (err) {
    await cancel().catch(() => undefined);
    if (err instanceof GpmError) {
      await fsp.rm(dest, { force: true });
      throw err;
    }
    // EEXIST: the file was someone else's; it is left alone.
    if (errnoCode(err) === "EEXIST") throw fail(`${dest} already exists`, "remove it or let gpm pick a new snapshot id");
    await fsp.rm(dest, { force: true });
    throw fail(`${what} failed: ${errnoCode(err) ?? errorMessage(err)}`, HINT);
  } finally {
    bar.stop();
  }
  const sha256 = hash.digest("hex");
  opts.log.debug({ url: release.url, size, sha256 }, "downloaded");
  return { sha256, size };
}
