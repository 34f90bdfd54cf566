import type { Argv } from "yargs";
import { runCommand } from "../run.js";
import type { Context, GlobalOptions } from "../context.js";
import { withInstallation } from "../session.js";
import { requireInstallation } from "../../install/installation.js";
import { GpmError, Exit, blocked } from "../../util/errors.js";
import { abortRequested } from "../../util/signals.js";
import { clearBasis, clearRecoveryFlag, enableRecovery, readRecoveryFlag } from "../../recovery/flag.js";
import { DEFAULT_TTL_MS, issueToken, parseTtl } from "../../recovery/token.js";
import { startRecoveryServer } from "../../recovery/server.js";

interface RecoveryArgs extends GlobalOptions {
  reason?: string;
  force?: boolean;
  ttl?: string;
  host?: string;
  port?: number;
}

/** `gpm recovery status | enable | clear | token | serve` (SPEC section 8). */
export function recoveryCommand(y: Argv): Argv {
  return y.command(
    "recovery",
    "recovery mode: status | enable --reason R | clear | token [--ttl 15m] | serve [--host H] [--port P]",
    (b) =>
      b
        .command("status", "is recovery mode on, since when and why", (c) => c, (argv) => runCommand("recovery status", argv as RecoveryArgs, status))
        .command(
          "enable",
          "turn recovery mode on (self-upgrade refuses while it is on)",
          (c) => c.option("reason", { type: "string", demandOption: true, describe: "why (shown by status and on the recovery page)" }),
          (argv) => runCommand("recovery enable", argv as RecoveryArgs, (ctx) => enable(ctx, argv as RecoveryArgs)),
        )
        .command(
          "clear",
          "turn recovery mode off, after a rollback since it was turned on or a passing health check",
          (c) => c.option("force", { type: "boolean", describe: "clear even without a rollback or a passing health check" }),
          (argv) => runCommand("recovery clear", argv as RecoveryArgs, (ctx) => clear(ctx, argv as RecoveryArgs)),
        )
        .command(
          "token",
          "print a short-lived token for the recovery page",
          (c) => c.option("ttl", { type: "string", default: "15m", describe: "lifetime: 15m, 900s, 2h, 30 (seconds); at most 24h" }),
          (argv) => runCommand("recovery token", argv as RecoveryArgs, (ctx) => token(ctx, argv as RecoveryArgs)),
        )
        .command(
          "serve",
          "serve the recovery page until Ctrl-C (prints its URL with a fresh token)",
          (c) =>
            c
              .option("host", { type: "string", default: "127.0.0.1", describe: "address to listen on (only this one)" })
              .option("port", { type: "number", default: 0, describe: "port (0: any free one)" })
              .option("ttl", { type: "string", default: "15m", describe: "lifetime of the printed token" }),
          (argv) => serve(argv as RecoveryArgs),
        )
        .demandCommand(1, "name a recovery action: status, enable, clear, token or serve"),
  );
}

async function status(ctx: Context) {
  return withInstallation(ctx, "recovery status", "read", async ({ inst }) => {
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
  });
}

async function enable(ctx: Context, argv: RecoveryArgs) {
  const reason = (argv.reason ?? "").trim();
  if (!reason) throw new GpmError(Exit.USAGE, "--reason must not be empty", "say why, e.g. --reason \"site down after upgrade\"");
  return withInstallation(ctx, "recovery enable", "write", async ({ inst }) => {
    const { flag, created } = await enableRecovery(inst, reason);
    return {
      data: { recovery: true, created, reason: flag.reason, since: flag.createdAt, manifest: flag.manifest },
      lines: created
        ? [`recovery mode is on (${inst.config.recoveryFlag}); self-upgrade refuses until \`gpm recovery clear\``]
        : [`recovery mode was already on since ${flag.createdAt} (reason: ${flag.reason}); left as it is`],
    };
  });
}

async function clear(ctx: Context, argv: RecoveryArgs) {
  return withInstallation(ctx, "recovery clear", "write", async ({ inst }) => {
    const flag = await readRecoveryFlag(inst);
    if (!flag) return { data: { recovery: false, cleared: false }, lines: ["recovery mode is not on; nothing to clear"] };
    if (argv.force) {
      ctx.log.warn("clearing the recovery flag without a rollback or a passing health check (--force)");
      await clearRecoveryFlag(inst);
      return { data: { recovery: false, cleared: true, because: "force" }, lines: ["recovery mode cleared (--force)"] };
    }
    const basis = await clearBasis(inst, flag);
    if (!basis.ok) {
      throw blocked(`recovery flag kept: ${basis.why}`, "roll back (`gpm rollback` or the recovery page), make healthUrl answer 2xx, or pass --force");
    }
    await clearRecoveryFlag(inst);
    const why = basis.because === "rollback" ? `rollback with ${basis.manifest} at ${basis.at}` : `health check of ${basis.url} answered ${basis.status}`;
    return { data: { recovery: false, cleared: true, ...basis }, lines: [`recovery mode cleared (${why})`] };
  });
}

async function token(ctx: Context, argv: RecoveryArgs) {
  const ttl = parseTtl(argv.ttl ?? "15m");
  return withInstallation(ctx, "recovery token", "read", async ({ inst }) => {
    await requireInstallation(inst); // it writes .gpm/recovery.key the first time
    const t = await issueToken(inst, ttl, { log: ctx.log });
    return { data: { token: t.token, expiresAt: t.expiresAt.toISOString() }, lines: [t.token, `expires at ${t.expiresAt.toISOString()}`] };
  });
}

/**
 * `serve` prints its one --json document when the page is up, not when it
 * stops (a script needs the URL while it runs): the handler prints it and
 * tells runCommand the result is already out. An error before then is still
 * runCommand's one JSON error document.
 */
async function serve(argv: RecoveryArgs): Promise<void> {
  await runCommand("recovery serve", argv, (ctx) =>
    serveUntilSignal(ctx, argv, (doc) => {
      if (ctx.json) process.stdout.write(JSON.stringify({ ok: true, command: "recovery serve", exitCode: Exit.OK, ...doc }) + "\n");
    }),
  );
}

async function serveUntilSignal(ctx: Context, argv: RecoveryArgs, started: (doc: Record<string, unknown>) => void) {
  const ttl = argv.ttl === undefined ? DEFAULT_TTL_MS : parseTtl(argv.ttl);
  const port = argv.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new GpmError(Exit.USAGE, `--port ${String(argv.port)}: expected 0 to 65535`);
  const host = argv.host ?? "127.0.0.1";
  if (!host.trim()) throw new GpmError(Exit.USAGE, "--host must not be empty");
  // The session repairs and migrates under the lock, then lets it go: while the
  // page is up each action takes the lock for itself, so other gpm runs are not blocked.
  const inst = await withInstallation(ctx, "recovery serve", "read", async ({ inst }) => inst);
  await requireInstallation(inst);
  const t = await issueToken(inst, ttl, { log: ctx.log });
  const server = await startRecoveryServer(inst, { host, port, log: ctx.log });
  try {
    const url = `${server.url}?token=${encodeURIComponent(t.token)}`;
    started({ url, token: t.token, expiresAt: t.expiresAt.toISOString(), host: server.host, port: server.port });
    ctx.say(`recovery page: ${url}`);
    ctx.say(`the token expires at ${t.expiresAt.toISOString()}; get a new one with \`gpm recovery token\``);
    ctx.say("press Ctrl-C to stop");
    await untilSignal();
  } finally {
    await server.close();
  }
  return { data: {}, lines: ["recovery page stopped"], printed: true };
}

/** Resolves on SIGINT or SIGTERM (gpm's own handlers only record the signal, so the process stays up until then). */
function untilSignal(): Promise<void> {
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
