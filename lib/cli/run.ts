import { GpmError, Exit, errorMessage, fsRefusal } from "../util/errors.js";
import { installSignalHandlers } from "../util/signals.js";
import { API_VERSION } from "./api-version.js";
import { paintErr } from "../util/color.js";
import { createContext, stopProgress, type Context, type GlobalOptions } from "./context.js";

/** What a command handler returns: the JSON document's body, human lines, and the exit code. */
export interface CommandResult {
  /** Goes into the --json document (merged with `apiVersion`, `ok`, `command`, `exitCode`). */
  data: Record<string, unknown>;
  /** Did the command change anything? Required of commands that can (their document says `changed`). */
  changed?: boolean;
  /** Printed on stdout without --json. */
  lines?: string[];
  code?: number;
  /** The handler already printed its --json document (a long-running command prints it at start). */
  printed?: boolean;
}

/** The start of every --json document (lib/cli/documents.ts has the schemas). */
export function envelope(command: string | null, code: number, changed?: boolean): Record<string, unknown> {
  return { apiVersion: API_VERSION, ok: code === Exit.OK, command, exitCode: code, ...(changed === undefined ? {} : { changed }) };
}

/**
 * Run one command: build the context, call the handler, print the result (one
 * JSON document on stdout with --json, else lines), and set the exit code.
 * Errors become `error: <what happened> — <what to do>` and their exit code.
 */
export async function runCommand(command: string, argv: GlobalOptions, opts: { changes: boolean }, handler: (ctx: Context) => Promise<CommandResult>): Promise<void> {
  installSignalHandlers();
  // stdout piped into `head` and closed: the result is simply not read; never crash over it.
  process.stdout.on("error", () => undefined);
  const ctx = createContext(argv);
  let code: number;
  try {
    const res = await handler(ctx).finally(stopProgress);
    code = res.code ?? Exit.OK;
    if (ctx.json && res.printed) {
      // already out
    } else if (ctx.json) {
      const doc = { ...envelope(command, code, opts.changes ? (res.changed ?? false) : undefined), ...res.data };
      process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
    }
    else for (const l of res.lines ?? []) ctx.say(l);
  } catch (caught) {
    stopProgress();
    const err = fsRefusal(caught) ?? caught;
    code = err instanceof GpmError ? err.code : Exit.ERROR;
    const message = errorMessage(err);
    const hint = err instanceof GpmError ? err.hint : "this is a bug in gpm; rerun with --log-level debug and report it";
    if (!(err instanceof GpmError) || argv.logLevel === "debug") ctx.log.debug({ err }, "stack");
    if (ctx.json) {
      const details = err instanceof GpmError && err.details !== undefined ? { details: err.details } : {};
      // Only a restore that failed leaves the tree changed (recovery mode): every other failure changed nothing.
      const changed = opts.changes ? code === Exit.RESTORE_FAILED : undefined;
      process.stdout.write(JSON.stringify({ ...envelope(command, code, changed), error: { code, message, hint: hint ?? null }, ...details }, null, 2) + "\n");
    } else {
      // The detail lines (self-upgrade's preflight table) are context, not the result: --quiet leaves them out.
      if (!argv.quiet && err instanceof GpmError && Array.isArray((err.details as { lines?: unknown })?.lines)) {
        for (const l of (err.details as { lines: string[] }).lines) ctx.say(l);
      }
      process.stderr.write(`${paintErr.red("error:")} ${message}${hint ? ` — ${hint}` : ""}\n`);
    }
  }
  process.exitCode = code;
}
