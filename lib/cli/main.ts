import fs from "node:fs";
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import * as commands from "./commands/index.js";
import { register, type Command } from "./spec.js";
import { API_VERSION } from "./api-version.js";
import { closest } from "../util/suggest.js";

const GLOBAL_OPTIONS = ["root", "config", "feed", "json", "yes", "log-level", "quiet", "help"];

/** Every command word and option name gpm knows, for "did you mean". */
function vocabulary(): { words: Set<string>; flags: Set<string> } {
  const words = new Set<string>();
  const flags = new Set(GLOBAL_OPTIONS.map((o) => `--${o}`));
  const walk = (c: Command): void => {
    words.add(c.name);
    for (const o of Object.keys(c.options)) flags.add(`--${o}`);
    c.subcommands.forEach(walk);
  };
  Object.values(commands).forEach(walk);
  return { words, flags };
}

/** `Unknown argument: statsu` → `did you mean status?` */
function suggestion(msg: string, args: string[]): string | null {
  const m = /^Unknown arguments?: (.+)$/.exec(msg) ?? /^Unknown command: (.+)$/.exec(msg);
  if (!m) return null;
  const { words, flags } = vocabulary();
  for (const bad of m[1]!.split(", ")) {
    const flag = args.find((a) => a === `--${bad}` || a.startsWith(`--${bad}=`) || a === `-${bad}`);
    const near = flag ? closest(`--${bad}`, flags) : closest(bad, words);
    if (near) return `did you mean ${near}?`;
  }
  return null;
}

/**
 * Parse argv and dispatch. Every command's spec is registered up front (each
 * loads its implementation only when it runs: lib/cli/spec.ts). Usage errors
 * exit 2 (SPEC section 4); with --json they are a JSON document on stdout too.
 */
export async function main(argv: string[]): Promise<void> {
  let args = hideBin(argv);
  if (args.length === 1 && args[0] === "--version") args = ["version"];
  let y: Argv = yargs(args)
    .scriptName("gpm")
    .usage("$0 <command> [options]")
    .option("root", { type: "string", describe: "the installation root (default: $GPM_ROOT, else the current directory)", global: true })
    .option("config", { type: "string", describe: "config file (default: <root>/gpm.json)", global: true })
    .option("feed", { type: "string", describe: "release feed URL or path (overrides config feed)", global: true })
    .option("json", { type: "boolean", describe: "print exactly one JSON document on stdout", global: true })
    .option("yes", { alias: "y", type: "boolean", describe: "answer yes to prompts (without a TTY a question is an error)", global: true })
    .option("log-level", { type: "string", choices: ["trace", "debug", "info", "warn", "error", "fatal", "silent"], describe: "log level (logs go to stderr)", global: true })
    .option("quiet", { type: "boolean", describe: "only errors; no progress", global: true });
  for (const c of Object.values(commands)) y = register(y, c);
  await y
    .demandCommand(1, "name a command")
    .strict()
    .version(false)
    .help()
    .alias("help", "h")
    .epilogue("Exit codes: 0 ok, 1 error, 2 usage, 3 blocked by a check, 4 smoke check failed (restored), 5 locked, 6 integrity, 7 restore failed (recovery mode), 130/143 interrupted. Each command's --help lists its own.")
    .fail((msg, err) => {
      if (err) throw err;
      const hint = [suggestion(msg, args), "see `gpm --help`"].filter(Boolean).join(" ");
      if (args.includes("--json")) {
        const doc = { apiVersion: API_VERSION, ok: false, command: null, exitCode: 2, error: { code: 2, message: msg, hint } };
        fs.writeSync(1, JSON.stringify(doc, null, 2) + "\n");
      }
      fs.writeSync(2, `error: ${msg} — ${hint}\n`);
      process.exit(2);
    })
    .parseAsync();
}
