import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";

type Register = (y: Argv) => Argv;

/**
 * Each command's module, loaded only when that command runs: a command pulls
 * in its whole pipeline, and loading all of them costs every invocation
 * (`gpm rollback` included) a quarter of a second before it does anything.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  preflight: async () => (await import("./commands/preflight.js")).preflightCommand,
  "self-upgrade": async () => (await import("./commands/self-upgrade.js")).selfUpgradeCommand,
  rollback: async () => (await import("./commands/rollback.js")).rollbackCommand,
  snapshots: async () => (await import("./commands/snapshots.js")).snapshotsCommand,
  verify: async () => (await import("./commands/verify.js")).verifyCommand,
  status: async () => (await import("./commands/status.js")).statusCommand,
  repair: async () => (await import("./commands/repair.js")).repairCommand,
  recovery: async () => (await import("./commands/recovery.js")).recoveryCommand,
  "migrate-installation": async () => (await import("./commands/migrate-installation.js")).migrateInstallationCommand,
  version: async () => (await import("./commands/version.js")).versionCommand,
};

/** Global options that take a value (so their value is not mistaken for the command's name). */
const VALUE_OPTIONS = new Set(["--root", "--config", "--feed", "--log-level"]);

/** The command named on the command line, if it is one of ours. */
function commandName(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith("-")) return a in COMMANDS ? a : undefined;
  }
  return undefined;
}

/** Parse argv and dispatch. Usage errors exit 2 (SPEC section 4). */
export async function main(argv: string[]): Promise<void> {
  let args = hideBin(argv);
  if (args.length === 1 && args[0] === "--version") args = ["version"];
  const name = commandName(args);
  // Unknown or no command: load them all, so --help and the usage error list every one.
  const registers = await Promise.all((name ? [COMMANDS[name]!] : Object.values(COMMANDS)).map((load) => load()));
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
  for (const register of registers) y = register(y);
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
