import { errorMessage } from "./errors.js";

/**
 * GET `url`; ok on a 2xx answer within `timeoutMs` (redirects are answers, not
 * followed). Never throws. The one health probe: the smoke check's healthUrl
 * and `recovery clear`'s check both ask it. `status` is 0 when nothing answered.
 */
export async function probeHealth(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<{ ok: boolean; status: number; detail: string }> {
  try {
    const res = await fetch(url, { method: "GET", headers, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel().catch(() => undefined);
    return { ok: res.status >= 200 && res.status < 300, status: res.status, detail: `HTTP ${res.status}` };
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    const detail = name === "TimeoutError" || name === "AbortError" ? `no answer within ${Math.round(timeoutMs / 1000)}s` : errorMessage(err);
    return { ok: false, status: 0, detail };
  }
}
