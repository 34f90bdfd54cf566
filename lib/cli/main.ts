import fs from "node:fs";
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import * as commands from "./commands/index.js";
import { register, type Command } from "./spec.js";
import { API_VERSION } from "./api-version.js";
import { closest } from "../util/suggest.js";

const GLOBAL_OPTIONS = ["root", "config", "feed", "json", "yes", "log-level", "quiet", "help"];
/** Global options that take a value (`--root DIR`): their value is not a command word. */
const VALUED = new Set(["--root", "--config", "--feed", "--log-level"]);

/**
 * The command words on the line (`recovery`, `token`) and the specs they name,
 * walked as far as they match: the vocabulary of a suggestion is that
 * command's, so `gpm status --dryrun` is not told to use self-upgrade's flag.
 */
function commandPath(args: readonly string[]): { words: string[]; chain: Command[]; firstWord: string | null } {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") break;
    if (a.startsWith("-")) {
      if (VALUED.has(a)) i++;
      continue;
    }
    words.push(a);
  }
  const chain: Command[] = [];
  let level: readonly Command[] = Object.values(commands);
  for (const w of words) {
    const c = level.find((x) => x.name === w);
    if (!c) break;
    chain.push(c);
    level = c.subcommands;
  }
  return { words, chain, firstWord: words[0] ?? null };
}

/** The words that could come next after `chain`, and the flags `chain` accepts (every flag when no command matched). */
function vocabulary(chain: readonly Command[]): { words: string[]; flags: Set<string> } {
  const flags = new Set(GLOBAL_OPTIONS.map((o) => `--${o}`));
  const last = chain[chain.length - 1];
  const words = (last ? last.subcommands : Object.values(commands)).map((c) => c.name);
  const walk = (c: Command, deep: boolean): void => {
    for (const o of Object.keys(c.options)) flags.add(`--${o}`);
    if (deep) for (const s of c.subcommands) walk(s, true);
  };
  if (chain.length) chain.forEach((c) => walk(c, false));
  else Object.values(commands).forEach((c) => walk(c, true));
  return { words, flags };
}

/**
 * A usage error, said in one line with the closest known word:
 * `Unknown argument: statsu` → `unknown command "statsu" (did you mean status?)`,
 * `Unknown argument: dryrun` → `… (did you mean --dry-run?)`.
 */
function explain(msg: string, args: string[]): string {
  const m = /^Unknown arguments?: (.+)$/.exec(msg) ?? /^Unknown command: (.+)$/.exec(msg);
  if (!m) return msg;
  const { chain, words: given } = commandPath(args);
  const { words, flags } = vocabulary(chain);
  for (const bad of m[1]!.split(", ")) {
    const flag = args.find((a) => a === `--${bad}` || a.startsWith(`--${bad}=`) || a === `-${bad}`);
    if (flag) {
      const near = closest(`--${bad}`, flags);
      const whose = chain.length ? ` for gpm ${chain.map((c) => c.name).join(" ")}` : "";
      return `unknown option ${flag.split("=")[0]}${whose}${near ? ` (did you mean ${near}?)` : ""}`;
    }
    if (given[chain.length] === bad) {
      const last = chain[chain.length - 1];
      if (last && !last.subcommands.length) return `gpm ${chain.map((c) => c.name).join(" ")} takes no argument "${bad}"`;
      const near = closest(bad, words);
      const what = chain.length ? `${chain.map((c) => c.name).join(" ")} action` : "command";
      return `unknown ${what} "${bad}"${near ? ` (did you mean ${near}?)` : ""}`;
    }
  }
  return msg;
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
    .epilogue(
      "Exit codes: 0 ok, 1 error, 2 usage, 3 blocked by a check or policy, 4 smoke check failed (restored), 5 locked, 6 integrity, 7 restore failed (recovery mode), 8 committed but not finished (the next gpm command finishes it), 130/143 interrupted. Each command's --help lists its own; all of them: docs/CLI.md.",
    )
    .fail((msg, err) => {
      if (err) throw err;
      const message = explain(msg, args);
      const { chain } = commandPath(args);
      const hint = `see \`gpm ${chain.map((c) => c.name + " ").join("")}--help\``;
      if (args.includes("--json")) {
        const doc = { apiVersion: API_VERSION, ok: false, command: null, exitCode: 2, error: { code: 2, message, hint } };
        fs.writeSync(1, JSON.stringify(doc, null, 2) + "\n");
      }
      fs.writeSync(2, `error: ${message} — ${hint}\n`);
      process.exit(2);
    })
    .parseAsync();
}
