/**
 * The recovery page's routes: which path takes which method, the token
 * (GET: `?token=` or `Authorization: Bearer`; POST: a `token` field in the
 * form body, so a link alone can never change anything), the form body, and
 * which answer each outcome gets.
 */
import type http from "node:http";
import { GpmError, errorMessage } from "../../util/errors.js";
import type { Logger } from "../../util/log.js";
import { installedVersion, type Installation } from "../../install/installation.js";
import { listManifests } from "../../store/manifest.js";
import { readRecoveryFlag } from "../flag.js";
import { listPlugins } from "../plugins.js";
import { verifyToken } from "../token.js";
import { HttpError, pluginAction, rollbackAction } from "./actions.js";
import { backLink, escapeHtml, overviewPage, page, send, unauthorizedPage } from "./html.js";

export const MAX_BODY_BYTES = 16 * 1024;
const MAX_MANIFESTS_SHOWN = 20;

const ROUTES: Record<string, string> = { "/": "GET", "/rollback": "POST", "/plugins/disable": "POST", "/plugins/enable": "POST" };

/** Answer one request; an unexpected failure is a 500 that points at gpm's log. */
export function respond(inst: Installation, log: Logger, req: http.IncomingMessage, res: http.ServerResponse): void {
  handle(inst, log, req, res).catch((err: unknown) => {
    log.error({ err: errorMessage(err) }, "recovery page: internal error");
    if (!res.headersSent) send(res, 500, page("Internal error", "<p>The request failed; see gpm's log.</p>"));
    else res.destroy();
  });
}

async function handle(inst: Installation, log: Logger, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://recovery.invalid");
  const allowed = ROUTES[url.pathname];
  if (!allowed) return send(res, 404, page("Not found", "<p>There is no such page.</p>"));
  if (req.method !== allowed) {
    res.setHeader("Allow", allowed);
    return send(res, 405, page("Method not allowed", `<p>Use ${allowed}.</p>`));
  }
  if (allowed === "GET") {
    const token = url.searchParams.get("token") ?? bearer(req);
    if (!(await verifyToken(inst, token, { log }))) return send(res, 401, unauthorizedPage());
    return send(res, 200, await overview(inst, token!));
  }
  let form: URLSearchParams;
  try {
    form = await readForm(req);
  } catch (err) {
    if (err instanceof HttpError) return send(res, err.status, page("Bad request", `<p>${escapeHtml(err.message)}</p>`));
    throw err;
  }
  // The token must be in the body: a query-string or header token is not enough for a change.
  const token = form.get("token");
  if (!(await verifyToken(inst, token, { log }))) return send(res, 401, unauthorizedPage());
  try {
    const result = url.pathname === "/rollback" ? await rollbackAction(inst, log, form) : await pluginAction(inst, log, form, url.pathname === "/plugins/enable");
    return send(res, 200, page("Done", `<p class="ok">${escapeHtml(result)}</p>${backLink(token!)}`));
  } catch (err) {
    if (err instanceof HttpError) return send(res, err.status, page(err.status === 409 ? "Busy" : "Bad request", `<p>${escapeHtml(err.message)}</p>${backLink(token!)}`));
    if (err instanceof GpmError) {
      log.error({ err: err.message }, "recovery page: action failed");
      return send(res, 500, page("Failed", `<p class="flag">${escapeHtml(err.message)}${err.hint ? ` — ${escapeHtml(err.hint)}` : ""}</p>${backLink(token!)}`));
    }
    throw err;
  }
}

async function overview(inst: Installation, token: string): Promise<string> {
  const [flag, manifests, plugins, version] = await Promise.all([readRecoveryFlag(inst), listManifests(inst), listPlugins(inst), installedVersion(inst).catch(() => null)]);
  return overviewPage({ inst, version, flag, manifests: manifests.slice(-MAX_MANIFESTS_SHOWN).reverse(), plugins }, token);
}

function bearer(req: http.IncomingMessage): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return m ? m[1]! : null;
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
