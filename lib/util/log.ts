import fs from "node:fs";
import { pino, type Logger, type Level, multistream, destination } from "pino";
import { giveOwnerSync } from "./owner.js";

export type { Logger };
export type LogLevel = Level | "silent";

const LABELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

/**
 * stderr gets one readable line per record (`gpm warn: message key=value`),
 * written synchronously so that a line logged just before a crash or an exit
 * is not lost; stdout stays for results and --json. The per-run file
 * (withRunLog) gets the full ndjson records.
 */
/**
 * While progress bars are drawn, a line written straight to stderr lands in the
 * middle of a bar (`… 3011/3011 filesgpm info: …`): the bars' owner routes the
 * lines through itself instead (lib/cli/context.ts), and sets null when done.
 */
let lineSink: ((text: string) => void) | null = null;
export function routeLogLines(sink: ((text: string) => void) | null): void {
  lineSink = sink;
}

/**
 * Never let a log line break a run: with stderr piped into `head`, a write
 * fails with EPIPE, and that must not abort an upgrade or — worse — its undo.
 */
function writeStderr(text: string): void {
  if (lineSink) {
    lineSink(text);
    return;
  }
  try {
    fs.writeSync(2, text);
  } catch {
    // stderr is gone; the run goes on (its ndjson log, if any, still gets the record)
  }
}

const stderrLines = {
  write(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      writeStderr(line);
      return;
    }
    const { level, msg, time: _time, err, ...rest } = rec;
    const label = LABELS[level as number] ?? "log";
    const extra = Object.entries(rest)
      .filter(([, v]) => v !== undefined && typeof v !== "object")
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(" ");
    const stack = err && typeof err === "object" && "stack" in err ? `\n${String((err as { stack: unknown }).stack)}` : "";
    writeStderr(`gpm ${label}: ${String(msg ?? "")}${extra ? `  (${extra})` : ""}${stack}\n`);
  },
};

export function createLogger(level: LogLevel = "info"): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, stderrLines);
}

/** A logger that also appends every record (debug and up) to `file` as ndjson. */
export function withRunLog(log: Logger, file: string): Logger {
  const fresh = !fs.existsSync(file);
  const fd = fs.openSync(file, "a");
  if (fresh) giveOwnerSync(file);
  const level = log.level as LogLevel;
  return pino(
    { level: "debug", base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    multistream([
      ...(level === "silent" ? [] : [{ level: level as Level, stream: stderrLines }]),
      { level: "debug" as Level, stream: destination({ fd, sync: true }) },
    ]),
  );
}

/** A logger that drops everything: for tests and library callers. */
export const silentLogger: Logger = pino({ level: "silent" });
