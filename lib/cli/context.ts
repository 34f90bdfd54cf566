import { createRequire } from "node:module";
import type cliProgressTypes from "cli-progress";
import { createLogger, routeLogLines, type Logger, type LogLevel } from "../util/log.js";
import { noProgress, type ProgressFactory } from "../util/progress.js";
import { openInstallation, type Installation } from "../install/installation.js";
import { setColor, wantsColor } from "../util/color.js";

/** Global options (SPEC section 4), as every command receives them. */
export interface GlobalOptions {
  root?: string | undefined;
  config?: string | undefined;
  feed?: string | undefined;
  json?: boolean | undefined;
  yes?: boolean | undefined;
  logLevel?: string | undefined;
  quiet?: boolean | undefined;
}

/** What a command needs besides its own options: where, how to log, how to show progress. */
export interface Context {
  root: string;
  configPath: string | undefined;
  feed: string | undefined;
  json: boolean;
  yes: boolean;
  /** --quiet: only errors; context lines (self-upgrade's preflight table) are left out of the result. */
  quiet: boolean;
  /** Can we ask the user a question? (a TTY on stdin, and not --json) */
  interactive: boolean;
  log: Logger;
  progress: ProgressFactory;
  /** Human-readable result lines on stdout (none with --json). */
  say(line: string): void;
}

export function createContext(g: GlobalOptions): Context {
  const json = Boolean(g.json);
  const quiet = Boolean(g.quiet);
  const level = (g.logLevel ?? (quiet ? "warn" : "info")) as LogLevel;
  const showProgress = !json && !quiet && Boolean(process.stderr.isTTY);
  setColor({ stdout: !json && wantsColor(process.stdout), stderr: wantsColor(process.stderr) });
  return {
    root: g.root ?? process.env.GPM_ROOT ?? process.cwd(),
    configPath: g.config,
    feed: g.feed,
    json,
    yes: Boolean(g.yes),
    quiet,
    interactive: !json && Boolean(process.stdin.isTTY),
    log: createLogger(level),
    progress: showProgress ? ttyProgress : noProgress,
    // --quiet silences logs and progress, not the result: a script still sees what happened.
    say: (line) => {
      if (!json) process.stdout.write(line + "\n");
    },
  };
}

/**
 * One MultiBar for the whole run: download and the user/ snapshot run at the
 * same time, and two single bars on one terminal would overwrite each other.
 */
let multibar: cliProgressTypes.MultiBar | null = null;
const ttyProgress: ProgressFactory = (label, total, unit) => {
  // Loaded on the first bar only: most runs (--json, cron, CI) show none, and it costs every start-up ~15 ms.
  const cliProgress = createRequire(import.meta.url)("cli-progress") as typeof cliProgressTypes;
  multibar ??= new cliProgress.MultiBar(
    { stream: process.stderr, hideCursor: true, clearOnComplete: false, format: "{label} [{bar}] {percentage}% | {shown}" },
    cliProgress.Presets.shades_classic,
  );
  // Log lines go above the bars, drawn with them, never into one of them.
  const bars = multibar;
  routeLogLines((text) => bars.log(text));
  const mb = (n: number): string => (n / 1048576).toFixed(1);
  const shown = (done: number): string => (unit === "bytes" ? `${mb(done)}/${mb(total)} MB` : `${done}/${total} files`);
  const bar = multibar.create(total, 0, { label: label.padEnd(10), shown: shown(0) });
  return {
    update: (done) => bar.update(done, { shown: shown(done) }),
    stop: () => bar.stop(),
  };
};

/** Stop the progress display (before the result is printed). */
export function stopProgress(): void {
  if (!multibar) return;
  // A redraw first writes the log lines still waiting above the bars (stop() alone drops them).
  multibar.update();
  multibar.stop();
  multibar = null;
  routeLogLines(null);
}

export async function open(ctx: Context): Promise<Installation> {
  return openInstallation({ root: ctx.root, configPath: ctx.configPath, feed: ctx.feed });
}
