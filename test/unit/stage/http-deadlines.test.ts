import assert from "node:assert/strict";
import http from "node:http";
import { httpGet, httpDeadlines } from "../../../lib/stage/http.js";
import { loadFeed } from "../../../lib/stage/feed.js";
import { createLogger } from "../../../lib/util/log.js";

/** Invariant 9 for feeds and downloads: an overall deadline (feeds) and a stall deadline (no byte). */

interface Trickle {
  url: string;
  close(): Promise<void>;
}

/** A loopback server that answers 200 and then sends one byte a second (or, with `stallAfter`, stops after that many). */
async function trickle(stallAfter?: number): Promise<Trickle> {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write("[");
    let sent = 0;
    const t = setInterval(() => {
      if (stallAfter !== undefined && sent >= stallAfter) return;
      sent++;
      res.write(" ");
    }, 1000);
    timers.add(t);
    res.on("close", () => clearInterval(t));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/releases.json`,
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function drain(url: string, deadlines: Parameters<typeof httpGet>[3]): Promise<void> {
  const res = await httpGet(url, `feed ${url}`, "check the feed", deadlines);
  for await (const chunk of res.chunks()) void chunk;
}

describe("stage/http: deadlines", function () {
  let s: Trickle;
  afterEach(() => s?.close());

  it("a feed that trickles a byte a second is abandoned at limits.feedTimeoutSec, however steadily it trickles", async () => {
    s = await trickle();
    await assert.rejects(drain(s.url, { stallMs: 10_000, totalMs: 2500 }), (err: Error) => {
      assert.match(err.message, /^feed http:\/\/127\.0\.0\.1:\d+\/releases\.json broke off: not complete within 3s \(limits\.feedTimeoutSec\)$/);
      return true;
    });
  });

  it("a transfer that delivers no byte for limits.stallTimeoutSec is abandoned", async () => {
    s = await trickle(1);
    await assert.rejects(drain(s.url, { stallMs: 2000 }), /broke off: no data for 2s \(limits\.stallTimeoutSec\)$/);
  });

  it("loadFeed takes both deadlines from limits (exit 1, one line)", async () => {
    s = await trickle();
    const deadlines = httpDeadlines({ feedTimeoutSec: 2, stallTimeoutSec: 30 }, "feed");
    assert.deepEqual(deadlines, { stallMs: 30_000, totalMs: 2000 });
    assert.deepEqual(httpDeadlines({ feedTimeoutSec: 2, stallTimeoutSec: 30 }, "download"), { stallMs: 30_000 });
    await assert.rejects(loadFeed(s.url, { log: createLogger("silent"), deadlines }), (err: Error & { code?: number }) => {
      assert.equal(err.code, 1);
      assert.match(err.message, /not complete within 2s \(limits\.feedTimeoutSec\)/);
      return true;
    });
  });
});
