import fs from "node:fs";
import { pino, type Logger, type Level, multistream, destination } from "pino";

export type { Logger };
export type LogLevel = Level | "silent";

/**
 * Logs go to stderr only (stdout is for results and --json), synchronously so
 * that a line written just before a crash or an exit is not lost. A run that
 * changes something also logs to snapshots/<id>/log.ndjson via withRunLog().
 */
export function createLogger(level: LogLevel = "info"): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination({ fd: 2, sync: true }));
}

/** A child logger that also appends every line to `file` (ndjson). */
export function withRunLog(log: Logger, file: string): Logger {
  const fd = fs.openSync(file, "a");
  const level = log.level as LogLevel;
  return pino(
    { level: level === "silent" ? "info" : level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    multistream([
      ...(level === "silent" ? [] : [{ level: level as Level, stream: destination({ fd: 2, sync: true }) }]),
      { level: "debug" as Level, stream: destination({ fd, sync: true }) },
    ]),
  );
}

/** A logger that drops everything: for tests and library callers. */
export const silentLogger: Logger = pino({ level: "silent" });
