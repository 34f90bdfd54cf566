import { GPM_VERSION } from "../install/installation.js";
import { errnoCode, errorMessage, fail } from "../util/errors.js";

/** No answer (headers, or the next chunk of a body) for this long: the server is treated as unreachable. */
export const HTTP_TIMEOUT_MS = 30_000;

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
export async function httpGet(url: string, what: string, hint: string, timeoutMs = HTTP_TIMEOUT_MS): Promise<HttpResponse> {
  const ac = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
  };
  const secs = `${Math.round(timeoutMs / 1000)}s`;
  arm();
  let res: Response;
  try {
    res = await fetch(url, { signal: ac.signal, redirect: "follow", headers: { "accept-encoding": "identity", "user-agent": `gpm/${GPM_VERSION}` } });
  } catch (err) {
    clearTimeout(timer);
    throw fail(`${what} is unreachable: ${timedOut ? `no answer within ${secs}` : networkReason(err)}`, hint);
  }
  if (!res.ok) {
    clearTimeout(timer);
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
        throw fail(`${what} broke off: ${timedOut ? `no data for ${secs}` : networkReason(err)}`, hint);
      } finally {
        clearTimeout(timer);
      }
    },
    async cancel() {
      clearTimeout(timer);
      ac.abort();
      await body?.cancel().catch(() => undefined);
    },
  };
}
