import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import * as commands from "./commands/index.js";
import { register } from "./spec.js";

/**
 * Parse argv and dispatch. Every command's spec is registered up front (each
 * loads its implementation only when it runs: lib/cli/spec.ts). Usage errors
 * exit 2 (SPEC section 4).
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
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`error: ${msg} — see \`gpm --help\`\n`);
      process.exit(2);
    })
    .parseAsync();
}
