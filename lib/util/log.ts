import fs from "node:fs";
import { createRequire } from "node:module";
import type { Level, Logger as PinoLogger } from "pino";
import { giveOwnerSync } from "./owner.js";

export type LogLevel = Level | "silent";

type LogFn = PinoLogger["info"];
/** What gpm logs through: pino's five calls and its level, nothing else of it. */
export interface Logger {
  readonly level: string;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

type Pino = typeof import("pino");
let pinoModule: Pino | undefined;
/**
 * pino, loaded on the first record a logger writes. Most runs of a small
 * command (`gpm version`, `gpm status`) write none, and evaluating pino and
 * what it requires (thread-stream, worker_threads, sonic-boom…) cost each
 * start-up ~20 ms of the 0.15 s budget (issue 14; `node -e "import(pino
 * chunk)"` 94 ms vs 74 ms for a chunk without it). In the bundle the free
 * `require` is esbuild's: pino stays bundled, evaluated only when called; in
 * tsc's output (unit tests) it comes from node_modules.
 */
function loadPino(): Pino {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a synchronous, deferred load is the point (see above)
  pinoModule ??= (typeof require === "function" ? require("pino") : createRequire(import.meta.url)("pino")) as Pino;
  return pinoModule;
}

const RANK: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** A logger that builds its pino logger (`make`) on the first record at or above `level`. */
function lazyLogger(level: LogLevel, make: (pino: Pino) => PinoLogger): Logger {
  let real: PinoLogger | undefined;
  const at = (name: Level): LogFn =>
    ((...args: Parameters<LogFn>) => {
      if (RANK[name]! < RANK[level]!) return;
      real ??= make(loadPino());
      real[name](...args);
    }) as LogFn;
  return { level, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), fatal: at("fatal") };
}

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
  return lazyLogger(level, ({ pino }) => pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, stderrLines));
}

/** A logger that also appends every record (debug and up) to `file` as ndjson. */
export function withRunLog(log: Logger, file: string): Logger {
  const fresh = !fs.existsSync(file);
  const fd = fs.openSync(file, "a");
  if (fresh) giveOwnerSync(file);
  const level = log.level as LogLevel;
  return lazyLogger("debug", ({ pino, multistream, destination }) =>
    pino(
      { level: "debug", base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
      multistream([
        ...(level === "silent" ? [] : [{ level: level as Level, stream: stderrLines }]),
        { level: "debug" as Level, stream: destination({ fd, sync: true }) },
      ]),
    ),
  );
}

/** A logger that drops everything: for tests and library callers. */
export const silentLogger: Logger = lazyLogger("silent", ({ pino }) => pino({ level: "silent" }));
