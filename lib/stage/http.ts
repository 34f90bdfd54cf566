import http from "node:http";
import https from "node:https";
import zlib from "node:zlib";
import type { Readable } from "node:stream";
import { GPM_VERSION } from "../install/installation.js";
import { errnoCode, errorMessage, fail } from "../util/errors.js";

/** No answer (headers, or the next chunk of a body) for this long: the server is treated as unreachable. */
export const HTTP_TIMEOUT_MS = 30_000;

/** Redirects followed before giving up (fetch's limit). */
const MAX_REDIRECTS = 20;

/** Deadlines of one transfer (invariant 9): `stallMs` without a byte (limits.stallTimeoutSec), `totalMs` overall (limits.feedTimeoutSec, feeds only). */
export interface HttpDeadlines {
  stallMs?: number;
  totalMs?: number;
}

/** The deadlines gpm.json's `limits` give a feed (overall and stall) or a release download (stall). */
export function httpDeadlines(limits: { feedTimeoutSec: number; stallTimeoutSec: number }, kind: "feed" | "download"): HttpDeadlines {
  return { stallMs: limits.stallTimeoutSec * 1000, ...(kind === "feed" ? { totalMs: limits.feedTimeoutSec * 1000 } : {}) };
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The body chunk by chunk; each chunk re-arms the idle timer, so a slow but moving download is never cut. */
  chunks(): AsyncGenerator<Uint8Array>;
  /** Stop reading (on an early refusal): frees the socket. */
  cancel(): Promise<void>;
}

/** Why a request failed, in the words an operator can search for (ECONNREFUSED, ENOTFOUND, ...). */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return errnoCode(err) ?? errnoCode(cause) ?? (cause instanceof Error ? cause.message : undefined) ?? errorMessage(err);
}

class Timeout extends Error {}

/**
 * GET `url` with node's http/https client, following redirects, refusing
 * (exit 1) a connection that fails, a non-2xx answer, and a server that says
 * nothing for HTTP_TIMEOUT_MS. `what` starts every message ("feed https://…",
 * "download of https://…"). `accept-encoding: identity` so that the bytes
 * hashed are the bytes served (a server that encodes anyway is decoded, as
 * fetch did).
 *
 * Not global fetch: its web-stream body cost ~2x the CPU per byte of an
 * IncomingMessage (measured on loopback, 200 MB: 650 vs 320 ms CPU just to
 * receive), and a release download is CPU-bound on this path.
 */
export async function httpGet(url: string, what: string, hint: string, deadlines: HttpDeadlines = {}): Promise<HttpResponse> {
  const timeoutMs = deadlines.stallMs ?? HTTP_TIMEOUT_MS;
  let timedOut = false;
  let overall = false;
  let current: { req: http.ClientRequest; res?: http.IncomingMessage } | undefined;
  const abort = (): void => {
    timedOut = true;
    const err = new Timeout("timed out");
    current?.res?.destroy(err);
    current?.req.destroy(err);
  };
  // One timer, refreshed on every chunk (cheaper than a new one per chunk).
  const timer = setTimeout(abort, timeoutMs);
  // The overall deadline is never re-armed: a server trickling a byte now and then cannot hold gpm (and its lock).
  const total =
    deadlines.totalMs === undefined
      ? undefined
      : setTimeout(() => {
          overall = true;
          abort();
        }, deadlines.totalMs);
  const secs = `${Math.round(timeoutMs / 1000)}s`;
  const late = (): string => (overall ? `not complete within ${Math.round(deadlines.totalMs! / 1000)}s (limits.feedTimeoutSec)` : `no data for ${secs}${deadlines.stallMs ? " (limits.stallTimeoutSec)" : ""}`);
  const stop = (): void => {
    clearTimeout(timer);
    clearTimeout(total);
  };

  let res: http.IncomingMessage;
  try {
    res = await follow(new URL(url), (c) => (current = c));
  } catch (err) {
    stop();
    throw fail(`${what} is unreachable: ${timedOut ? (overall ? late() : `no answer within ${secs}`) : networkReason(err)}`, hint);
  }
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) {
    stop();
    res.destroy();
    throw fail(`${what} failed: HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ""}`, hint);
  }
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
  }
  const body = decoded(res, headers);
  return {
    status,
    headers,
    async *chunks() {
      try {
        timer.refresh();
        for await (const chunk of body as AsyncIterable<Buffer>) {
          timer.refresh();
          yield chunk;
        }
      } catch (err) {
        throw fail(`${what} broke off: ${timedOut ? late() : networkReason(err)}`, hint);
      } finally {
        stop();
        if (!body.destroyed) body.destroy();
        if (!res.destroyed) res.destroy();
      }
    },
    async cancel() {
      stop();
      body.destroy();
      res.destroy();
    },
  };
}

/** The body as served, decoded if the server encoded it in spite of `accept-encoding: identity`. Its content-length then no longer applies. */
function decoded(res: http.IncomingMessage, headers: Headers): Readable {
  const enc = (headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  const decoder = enc === "gzip" || enc === "x-gzip" ? zlib.createGunzip() : enc === "deflate" ? zlib.createInflate() : enc === "br" ? zlib.createBrotliDecompress() : null;
  if (decoder === null) return res;
  headers.delete("content-length");
  res.on("error", (err) => decoder.destroy(err));
  return res.pipe(decoder);
}

/** GET, following up to MAX_REDIRECTS redirects (http ↔ https allowed, like fetch); resolves with the final response's head. */
async function follow(url: URL, track: (c: { req: http.ClientRequest; res?: http.IncomingMessage }) => void): Promise<http.IncomingMessage> {
  for (let hops = 0; ; hops++) {
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`redirected to ${url.protocol}`);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const get = url.protocol === "https:" ? https.get : http.get;
      const req = get(url, { headers: { "accept-encoding": "identity", "user-agent": `gpm/${GPM_VERSION}` } }, (r) => {
        c.res = r;
        resolve(r);
      });
      const c: { req: http.ClientRequest; res?: http.IncomingMessage } = { req };
      track(c);
      req.on("error", reject);
    });
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(status) || location === undefined) return res;
    res.destroy();
    if (hops >= MAX_REDIRECTS) throw new Error("redirect count exceeded");
    url = new URL(location, url);
  }
}
