import { defineCommand } from "../spec.js";
import type { Context } from "../context.js";
import type { Session } from "../session.js";

const TTL = { type: "string", default: "15m", describe: "lifetime: 15m, 900s, 2h, 30 (seconds); at most 24h" } as const;

/** `gpm recovery status | enable | clear | token | serve` (SPEC section 8). */
export const recoveryCommand = defineCommand({
  name: "recovery",
  describe: "recovery mode: status | enable --reason R | clear | token [--ttl 15m] | serve [--host H] [--port P] [--public]",
  mode: "none",
  subcommands: [

    defineCommand({
      name: "status",
      describe: "is recovery mode on, since when and why",
      mode: "read",
      result: (z) => ({
        recovery: z.boolean(),
        flag: z.string(),
        reason: z.string().optional(),
        since: z.string().optional(),
        manifest: z.string().nullable().optional(),
        quarantined: z.array(z.string()).optional(),
        readable: z.boolean().optional(),
      }),
      load: async () => status,
    }),
    defineCommand({
      name: "enable",
      describe: "turn recovery mode on (self-upgrade refuses while it is on)",
      options: { reason: { type: "string", demandOption: true, describe: "why (shown by status and on the recovery page)" } },
      validate: async ({ reason }) => {
        const { GpmError, Exit } = await import("../../util/errors.js");
        if (!reason.trim()) throw new GpmError(Exit.USAGE, "--reason must not be empty", 'say why, e.g. --reason "site down after upgrade"');
      },
      mode: "write",
      result: (z) => ({ recovery: z.literal(true), created: z.boolean(), reason: z.string(), since: z.string(), manifest: z.string().nullable() }),
      load: async () => enable,
    }),
    defineCommand({
      name: "clear",
      describe: "turn recovery mode off, after a rollback since it was turned on or a passing health check",
      options: { force: { type: "boolean", describe: "clear even without a rollback or a passing health check" } },
      mode: "write",
      result: (z) => ({ recovery: z.literal(false), cleared: z.boolean(), because: z.string().optional() }),
      load: async () => clear,
    }),
    defineCommand({
      name: "token",
      describe: "print a short-lived token for the recovery page",
      options: { ttl: TTL },
      validate: async ({ ttl }) => void (await import("../../recovery-mode/token.js")).parseTtl(ttl),
      mode: "read",
      result: (z) => ({ token: z.string(), expiresAt: z.string() }),
      load: async () => token,
    }),
    defineCommand({
      name: "serve",
      describe: "serve the recovery page until Ctrl-C (prints its URL with a fresh token)",
      options: {
        host: { type: "string", describe: "address to listen on (default 127.0.0.1; one that is not loopback needs --public)" },
        public: { type: "boolean", describe: "listen beyond loopback (default host 0.0.0.0); warns — an SSH tunnel is safer" },
        port: { type: "number", default: 0, describe: "port (0: any free one)" },
        ttl: { ...TTL, describe: "lifetime of the printed token" },
      },
      // Its own session: the lock is let go before the page goes up.
      mode: "none",
      result: (z) => ({ url: z.string(), token: z.string(), expiresAt: z.string(), host: z.string(), port: z.number().int() }),
      load: async () => serve,
    }),
  ],
});

type Run<A> = { ctx: Context; args: A; session: Session };

async function status({ session: { inst } }: Run<unknown>) {
  const { readRecoveryFlag } = await import("../../recovery-mode/flag.js");
  const flag = await readRecoveryFlag(inst);
  if (!flag) return { data: { recovery: false, flag: inst.config.recoveryFlag }, lines: ["recovery mode: off"] };
  return {
    data: { recovery: true, flag: inst.config.recoveryFlag, reason: flag.reason, since: flag.createdAt, manifest: flag.manifest, quarantined: flag.quarantined, readable: flag.readable },
    lines: [
      `recovery mode: ON since ${flag.createdAt}`,
      `  reason: ${flag.reason}${flag.raw ? ` (${JSON.stringify(flag.raw.slice(0, 120))})` : ""}`,
      `  manifest: ${flag.manifest ?? "-"}`,
      `  quarantined: ${flag.quarantined.length ? flag.quarantined.join(", ") : "-"}`,
      "  see what to do: `gpm recovery serve`, `gpm rollback`, then `gpm recovery clear`",
    ],
  };
}

async function enable({ args, session: { inst } }: Run<{ reason: string }>) {
  const { enableRecovery } = await import("../../recovery-mode/flag.js");
  const { flag, created } = await enableRecovery(inst, args.reason.trim());
  return {
    changed: created,
    data: { recovery: true, created, reason: flag.reason, since: flag.createdAt, manifest: flag.manifest },
    lines: created
      ? [`recovery mode is on (${inst.config.recoveryFlag}); self-upgrade refuses until \`gpm recovery clear\``]
      : [`recovery mode was already on since ${flag.createdAt} (reason: ${flag.reason}); left as it is`],
  };
}

async function clear({ ctx, args, session: { inst } }: Run<{ force?: boolean | undefined }>) {
  const [{ clearBasis, clearRecoveryFlag, readRecoveryFlag }, { blocked }] = await Promise.all([import("../../recovery-mode/flag.js"), import("../../util/errors.js")]);
  const flag = await readRecoveryFlag(inst);
  if (!flag) return { data: { recovery: false, cleared: false }, lines: ["recovery mode is not on; nothing to clear"] };
  if (args.force) {
    ctx.log.warn("clearing the recovery flag without a rollback or a passing health check (--force)");
    await clearRecoveryFlag(inst);
    return { changed: true, data: { recovery: false, cleared: true, because: "force" }, lines: ["recovery mode cleared (--force)"] };
  }
  const basis = await clearBasis(inst, flag);
  if (!basis.ok) {
    throw blocked(`recovery flag kept: ${basis.why}`, "roll back (`gpm rollback` or the recovery page), make healthUrl answer 2xx, or pass --force");
  }
  await clearRecoveryFlag(inst);
  const why = basis.because === "rollback" ? `rollback with ${basis.manifest} at ${basis.at}` : `health check of ${basis.url} answered ${basis.status}`;
  return { changed: true, data: { recovery: false, cleared: true, ...basis }, lines: [`recovery mode cleared (${why})`] };
}

async function token({ ctx, args, session: { inst } }: Run<{ ttl: string }>) {
  const [{ issueToken, parseTtl }, { requireInstallation }] = await Promise.all([import("../../recovery-mode/token.js"), import("../../install/installation.js")]);
  await requireInstallation(inst); // it writes .gpm/recovery.key the first time
  const t = await issueToken(inst, parseTtl(args.ttl), { log: ctx.log });
  return { data: { token: t.token, expiresAt: t.expiresAt.toISOString() }, lines: [t.token, `expires at ${t.expiresAt.toISOString()}`] };
}

/**
 * `serve` prints its one --json document when the page is up, not when it
 * stops (a script needs the URL while it runs), and tells runCommand the
 * result is already out. An error before then is still runCommand's one JSON
 * error document.
 */
async function serve({ ctx, args }: { ctx: Context; args: { host?: string | undefined; public?: boolean | undefined; port: number; ttl: string } }) {
  const [{ GpmError, Exit }, { issueToken, parseTtl }, { startRecoveryServer }, { withInstallation }, { envelope }] = await Promise.all([
    import("../../util/errors.js"),
    import("../../recovery-mode/token.js"),
    import("../../recovery-mode/server/index.js"),
    import("../session.js"),
    import("../run.js"),
  ]);
  const ttl = parseTtl(args.ttl);
  const port = args.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new GpmError(Exit.USAGE, `--port ${String(args.port)}: expected 0 to 65535`);
  const host = args.host ?? (args.public ? "0.0.0.0" : "127.0.0.1");
  if (!host.trim()) throw new GpmError(Exit.USAGE, "--host must not be empty");
  if (!args.public && !isLoopback(host)) {
    throw new GpmError(Exit.USAGE, `--host ${host} is not a loopback address: the recovery page can change the site`, "keep the default and use an SSH tunnel (ssh -L 8080:127.0.0.1:PORT host), or pass --public to listen there anyway");
  }
  // The session repairs and migrates under the lock, then lets it go: while the
  // page is up each action takes the lock for itself, so other gpm runs are not blocked.
  const inst = await withInstallation(ctx, "recovery serve", "read", async ({ inst }) => inst);
  await (await import("../../install/installation.js")).requireInstallation(inst);
  const t = await issueToken(inst, ttl, { log: ctx.log });
  const server = await startRecoveryServer(inst, { host, port, log: ctx.log, public: args.public === true });
  if (args.public) ctx.log.warn(`the recovery page listens on ${server.host}:${server.port}, beyond loopback (--public): anyone with a valid link can change the site; an SSH tunnel is safer (ssh -L 8080:127.0.0.1:${server.port} host)`);
  try {
    const url = `${server.url}?token=${encodeURIComponent(t.token)}`;
    if (ctx.json) {
      const doc = { url, token: t.token, expiresAt: t.expiresAt.toISOString(), host: server.host, port: server.port };
      process.stdout.write(JSON.stringify({ ...envelope("recovery serve", Exit.OK), ...doc }) + "\n");
    }
    ctx.say(`recovery page: ${url}`);
    ctx.say(`the token expires at ${t.expiresAt.toISOString()}; get a new one with \`gpm recovery token\``);
    ctx.say("press Ctrl-C to stop");
    await untilSignal((await import("../../util/signals.js")).abortRequested);
  } finally {
    await server.close();
  }
  return { data: {}, lines: ["recovery page stopped"], printed: true };
}

/** Resolves on SIGINT or SIGTERM (gpm's own handlers only record the signal, so the process stays up until then). */
function untilSignal(abortRequested: () => unknown): Promise<void> {
  if (abortRequested()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}

/** 127.0.0.0/8, ::1 and localhost: the page is then reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::ffff:127.0.0.1";
}
