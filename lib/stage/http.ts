import { GPM_VERSION } from "../install/installation.js";
import { errnoCode, errorMessage, fail } from "../util/errors.js";

/** No answer (headers, or the next chunk of a body) for this long: the server is treated as unreachable. */
export const HTTP_TIMEOUT_MS = 30_000;

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

/** Why a fetch failed, in the words an operator can search for (ECONNREFUSED, ENOTFOUND, ...). */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return errnoCode(cause) ?? (cause instanceof Error ? cause.message : undefined) ?? errorMessage(err);
}

/**
 * GET `url` with global fetch, refusing (exit 1) a connection that fails, a
 * non-2xx answer, and a server that says nothing for HTTP_TIMEOUT_MS. `what`
 * starts every message ("feed https://…", "download of https://…").
 * `accept-encoding: identity` so that the bytes hashed are the bytes served.
 */
export async function httpGet(url: string, what: string, hint: string, deadlines: HttpDeadlines = {}): Promise<HttpResponse> {
  const ac = new AbortController();
  const timeoutMs = deadlines.stallMs ?? HTTP_TIMEOUT_MS;
  let timedOut = false;
  let overall = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
  };
  // The overall deadline is never re-armed: a server trickling a byte now and then cannot hold gpm (and its lock).
  const total = deadlines.totalMs === undefined ? undefined : setTimeout(() => {
    timedOut = overall = true;
    ac.abort();
  }, deadlines.totalMs);
  const secs = `${Math.round(timeoutMs / 1000)}s`;
  const late = (): string => (overall ? `not complete within ${Math.round(deadlines.totalMs! / 1000)}s (limits.feedTimeoutSec)` : `no data for ${secs}${deadlines.stallMs ? " (limits.stallTimeoutSec)" : ""}`);
  const stop = (): void => {
    clearTimeout(timer);
    clearTimeout(total);
  };
  arm();
  let res: Response;
  try {
    res = await fetch(url, { signal: ac.signal, redirect: "follow", headers: { "accept-encoding": "identity", "user-agent": `gpm/${GPM_VERSION}` } });
  } catch (err) {
    stop();
    throw fail(`${what} is unreachable: ${timedOut ? (overall ? late() : `no answer within ${secs}`) : networkReason(err)}`, hint);
  }
  if (!res.ok) {
    stop();
    await res.body?.cancel().catch(() => undefined);
    throw fail(`${what} failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`, hint);
  }
  const body = res.body;
  return {
    status: res.status,
    headers: res.headers,
    async *chunks() {
      try {
        if (!body) return;
        arm();
        for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
          arm();
          yield chunk;
        }
      } catch (err) {
        throw fail(`${what} broke off: ${timedOut ? late() : networkReason(err)}`, hint);
      } finally {
        stop();
      }
    },
    async cancel() {
      stop();
      ac.abort();
      await body?.cancel().catch(() => undefined);
    },
  };
}
