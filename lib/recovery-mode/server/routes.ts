/**
 * The recovery page's routes: which path takes which method, the token,
 * the form body, and which answer each outcome gets.
 *
 * The token (checked on every request, in constant time, against its
 * expiry): GET takes it from `?token=`, `Authorization: Bearer` or the
 * session cookie; a POST only from a `token` field of its form body, so a
 * link alone never changes anything. An accepted GET token is kept as a
 * cookie (HttpOnly, SameSite=Strict, Path=/) that expires with the token.
 */
import type http from "node:http";
import { GpmError, errorMessage } from "../../util/errors.js";
import type { Logger } from "../../util/log.js";
import { installedVersion, type Installation } from "../../install/installation.js";
import { tokenExpiry, verifyToken } from "../token.js";
import { HttpError, clearAction, namedManifest, pluginAction, rollbackAction } from "./actions.js";
import { backLink, escapeHtml, page, send, type FormContext } from "./html.js";
import type { Nonces } from "./nonces.js";
import { ROUTE, confirmPage, overviewPage, unauthorizedPage } from "./pages.js";
import { overview, swapFor } from "./view.js";

export const MAX_BODY_BYTES = 16 * 1024;
export const COOKIE = "gpm_recovery";

const METHODS: Record<string, "GET" | "POST"> = {
  [ROUTE.overview]: "GET",
  [ROUTE.confirm]: "GET",
  [ROUTE.rollback]: "POST",
  [ROUTE.disable]: "POST",
  [ROUTE.enable]: "POST",
  [ROUTE.clear]: "POST",
};

export interface ServerState {
  inst: Installation;
  log: Logger;
  nonces: Nonces;
  /** Listening beyond loopback (`--public`): every page says so. */
  public: boolean;
}

/** Answer one request; an unexpected failure is a 500 that points at gpm's log. */
export function respond(s: ServerState, req: http.IncomingMessage, res: http.ServerResponse): void {
  handle(s, req, res).catch((err: unknown) => {
    s.log.error({ err: errorMessage(err) }, "recovery page: internal error");
    if (!res.headersSent) send(res, 500, page("Internal error", "<p>The request failed; see gpm's log.</p>"));
    else res.destroy();
  });
}

async function handle(s: ServerState, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://recovery.invalid");
  const allowed = METHODS[url.pathname];
  if (!allowed) return send(res, 404, page("Not found", "<p>There is no such page.</p>", s.public));
  if (req.method !== allowed) {
    res.setHeader("Allow", allowed);
    return send(res, 405, page("Method not allowed", `<p>Use ${allowed}.</p>`, s.public));
  }
  if (allowed === "GET") return handleGet(s, url, req, res);
  let form: URLSearchParams;
  try {
    form = await readForm(req);
  } catch (err) {
    if (err instanceof HttpError) return send(res, err.status, page("Bad request", `<p>${escapeHtml(err.message)}</p>`, s.public));
    throw err;
  }
  // The token must be in the body: a query-string, header or cookie token is not enough for a change.
  const token = form.get("token");
  if (!(await verifyToken(s.inst, token, { log: s.log }))) return send(res, 401, unauthorizedPage());
  const c = { inst: s.inst, log: s.log, nonces: s.nonces };
  try {
    const p = url.pathname;
    const result = p === ROUTE.rollback ? await rollbackAction(c, form) : p === ROUTE.clear ? await clearAction(c, form) : await pluginAction(c, form, p === ROUTE.enable);
    return send(res, 200, page("Done", `<p class="ok">${escapeHtml(result)}</p>${backLink(token!)}`, s.public));
  } catch (err) {
    if (err instanceof HttpError) {
      const title = err.status === 409 ? "Nothing was changed" : "Bad request";
      return send(res, err.status, page(title, `<p class="flag">${escapeHtml(err.message)}</p>${backLink(token!)}`, s.public));
    }
    if (err instanceof GpmError) {
      s.log.error({ err: err.message }, "recovery page: action failed");
      return send(res, 500, page("Failed", `<p class="flag">${escapeHtml(err.message)}${err.hint ? ` — ${escapeHtml(err.hint)}` : ""}</p>${backLink(token!)}`, s.public));
    }
    throw err;
  }
}

async function handleGet(s: ServerState, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const given = url.searchParams.get("token") ?? bearer(req);
  const token = given ?? cookie(req);
  if (!(await verifyToken(s.inst, token, { log: s.log }))) return send(res, 401, unauthorizedPage());
  const expiresAt = tokenExpiry(token!) ?? Date.now();
  const headers: Record<string, string> = {};
  if (given !== null) headers["Set-Cookie"] = `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.max(0, Math.floor((expiresAt - Date.now()) / 1000))}`;
  const live = (await installedVersion(s.inst).catch(() => null)) ?? "";
  const f: FormContext = { token: token!, live, nonce: (route, target) => s.nonces.issue(route, target, expiresAt) };
  if (url.pathname === ROUTE.overview) return send(res, 200, overviewPage(await overview(s.inst), f, s.public), headers);
  let m;
  try {
    m = await namedManifest(s.inst, url.searchParams.get("manifest") ?? "");
  } catch (err) {
    if (err instanceof HttpError) return send(res, err.status, page("Bad request", `<p>${escapeHtml(err.message)}</p>${backLink(token!)}`, s.public), headers);
    throw err;
  }
  const { swap, why } = await swapFor(s.inst, m, live || null);
  const withUser = url.searchParams.get("user") === "1";
  if (!swap || (withUser && !swap.userCopy)) {
    const reason = why ?? "the snapshot holds no copy of user/";
    return send(res, 409, page("This swap cannot work now", `<p class="flag">Snapshot ${escapeHtml(m.id)}: ${escapeHtml(reason)}.</p>${backLink(token!)}`, s.public), headers);
  }
  return send(res, 200, confirmPage(m, swap, withUser, live || null, f, s.public), headers);
}

function bearer(req: http.IncomingMessage): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return m ? m[1]! : null;
}

function cookie(req: http.IncomingMessage): string | null {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, v] = part.trim().split("=", 2);
    if (k === COOKIE && v) return v;
  }
  return null;
}

/** The form body: application/x-www-form-urlencoded, at most MAX_BODY_BYTES; any other body counts as empty. */
async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") return new URLSearchParams();
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
