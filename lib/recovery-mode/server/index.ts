/**
 * The recovery page (SPEC section 8): node:http only, so it works when the
 * application itself cannot boot. routes.ts says who may do what, actions.ts
 * does it, view.ts works out what to show, pages.ts and html.ts show it,
 * nonces.ts makes each form single-use.
 */
import http from "node:http";
import { GpmError, Exit, errorMessage } from "../../util/errors.js";
import type { Logger } from "../../util/log.js";
import type { Installation } from "../../install/installation.js";
import { Nonces } from "./nonces.js";
import { respond } from "./routes.js";

export { escapeHtml } from "./html.js";
export { MAX_BODY_BYTES } from "./routes.js";

export interface RecoveryServerOptions {
  host?: string;
  port?: number;
  log: Logger;
  /** Listening beyond loopback was asked for (`--public`): every page warns. */
  public?: boolean;
}

export interface RecoveryServer {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startRecoveryServer(inst: Installation, opts: RecoveryServerOptions): Promise<RecoveryServer> {
  const host = opts.host ?? "127.0.0.1";
  const state = { inst, log: opts.log, nonces: new Nonces(), public: opts.public ?? false };
  const server = http.createServer((req, res) => respond(state, req, res));
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new GpmError(Exit.ERROR, `cannot listen on ${host}:${opts.port ?? 0}: ${errorMessage(err)}`, "pick another --port or --host")));
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address() as { port: number; address: string };
  const urlHost = addr.address.includes(":") ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${urlHost}:${addr.port}/`,
    host: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
