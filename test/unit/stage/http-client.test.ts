import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { httpGet } from "../../../lib/stage/http.js";
import { downloadRelease } from "../../../lib/stage/download.js";
import { silentLogger } from "../../../lib/util/log.js";
import { noProgress } from "../../../lib/util/progress.js";
import type { Release } from "../../../lib/stage/types.js";

/**
 * gpm's own HTTP client (node:http, not fetch: lib/stage/http.ts says why):
 * what fetch did for free must still hold — redirects (relative, bounded), a
 * body the server encodes in spite of `accept-encoding: identity` is decoded,
 * a refusal names the status, a body cut short is an error, never a short file.
 */

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler): Promise<{ base: string; seen: http.IncomingHttpHeaders[]; close(): Promise<void> }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    base: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function body(url: string): Promise<Buffer> {
  const res = await httpGet(url, `download of ${url}`, "check the feed");
  const parts: Buffer[] = [];
  for await (const c of res.chunks()) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const PAYLOAD = crypto.randomBytes(3 << 20);
const release = (url: string): Release => ({ version: "1.0.0", url, sha256: "", size: null, date: null, channel: "stable", changelog: "", requires: {}, conflicts: [], signature: null });

describe("stage/http: the client", function () {
  let s: Awaited<ReturnType<typeof serve>> | undefined;
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpm-http-"))));
  afterEach(async () => {
    await s?.close();
    s = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("follows redirects, relative ones too, and says who is asking", async () => {
    s = await serve((req, res) => {
      if (req.url === "/a") res.writeHead(301, { location: "/b/c" }).end();
      else if (req.url === "/b/c") res.writeHead(302, { location: "../zip" }).end();
      else if (req.url === "/zip") res.writeHead(200, { "content-length": PAYLOAD.length }).end(PAYLOAD);
      else res.writeHead(404).end();
    });
    assert.ok((await body(`${s.base}/a`)).equals(PAYLOAD));
    assert.equal(s.seen.length, 3);
    for (const h of s.seen) {
      assert.match(String(h["user-agent"]), /^gpm\/\d/);
      assert.equal(h["accept-encoding"], "identity");
    }
  });

  it("gives up on a redirect loop with one line", async () => {
    s = await serve((_req, res) => res.writeHead(302, { location: "/again" }).end());
    await assert.rejects(body(`${s.base}/again`), { message: /^download of http:\/\/127\.0\.0\.1:\d+\/again is unreachable: redirect count exceeded$/ });
  });

  it("names the status of a refusal", async () => {
    s = await serve((_req, res) => res.writeHead(403, "Forbidden").end("no"));
    await assert.rejects(body(`${s.base}/zip`), /failed: HTTP 403 Forbidden/);
  });

  for (const [enc, pack] of [
    ["gzip", zlib.gzipSync],
    ["deflate", zlib.deflateSync],
    ["br", zlib.brotliCompressSync],
  ] as const) {
    it(`decodes a body the server sent as ${enc} anyway, and the download hashes the decoded bytes`, async () => {
      const packed = pack(PAYLOAD);
      s = await serve((_req, res) => res.writeHead(200, { "content-encoding": enc, "content-length": packed.length }).end(packed));
      const dest = path.join(tmp, "release.zip");
      const got = await downloadRelease(release(`${s.base}/zip`), dest, { maxBytes: 1 << 30, progress: noProgress, log: silentLogger });
      assert.equal(got.size, PAYLOAD.length);
      assert.equal(got.sha256, crypto.createHash("sha256").update(PAYLOAD).digest("hex"));
      assert.ok(fs.readFileSync(dest).equals(PAYLOAD));
    });
  }

  it("a body cut short is an error and leaves no file", async () => {
    s = await serve((_req, res) => {
      res.writeHead(200, { "content-length": PAYLOAD.length });
      res.write(PAYLOAD.subarray(0, 1 << 20), () => res.socket?.destroy());
    });
    const dest = path.join(tmp, "release.zip");
    await assert.rejects(
      downloadRelease(release(`${s.base}/zip`), dest, { maxBytes: 1 << 30, progress: noProgress, log: silentLogger }),
      /download of http:\/\/127\.0\.0\.1:\d+\/zip (broke off|failed)/,
    );
    assert.equal(fs.existsSync(dest), false);
  });

  it("a download larger than limits.maxDownloadBytes stops at the limit and leaves no file", async () => {
    s = await serve((_req, res) => res.writeHead(200).end(PAYLOAD));
    const dest = path.join(tmp, "release.zip");
    await assert.rejects(
      downloadRelease(release(`${s.base}/zip`), dest, { maxBytes: 1 << 20, progress: noProgress, log: silentLogger }),
      /exceeds limits\.maxDownloadBytes/,
    );
    assert.equal(fs.existsSync(dest), false);
  });
});
