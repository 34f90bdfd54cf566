import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { versionCommand } from "./commands/version.js";
import { preflightCommand } from "./commands/preflight.js";
import { selfUpgradeCommand } from "./commands/self-upgrade.js";
import { rollbackCommand } from "./commands/rollback.js";
import { snapshotsCommand } from "./commands/snapshots.js";
import { verifyCommand } from "./commands/verify.js";
import { statusCommand } from "./commands/status.js";
import { recoveryCommand } from "./commands/recovery.js";
import { migrateInstallationCommand } from "./commands/migrate-installation.js";

/** Parse argv and dispatch. Usage errors exit 2 (SPEC section 4). */
export async function main(argv: string[]): Promise<void> {
  let y: Argv = yargs(hideBin(argv))
    .scriptName("gpm")
    .usage("$0 <command> [options]")
    .option("root", { type: "string", describe: "the installation root (default: $GPM_ROOT, else the current directory)", global: true })
    .option("config", { type: "string", describe: "config file (default: <root>/gpm.json)", global: true })
    .option("feed", { type: "string", describe: "release feed URL or path (overrides config feed)", global: true })
    .option("json", { type: "boolean", describe: "print exactly one JSON document on stdout", global: true })
    .option("yes", { alias: "y", type: "boolean", describe: "answer yes to prompts (without a TTY a question is an error)", global: true })
    .option("log-level", { type: "string", choices: ["trace", "debug", "info", "warn", "error", "fatal", "silent"], describe: "log level (logs go to stderr)", global: true })
    .option("quiet", { type: "boolean", describe: "only errors; no progress", global: true });
  for (const register of [preflightCommand, selfUpgradeCommand, rollbackCommand, snapshotsCommand, verifyCommand, statusCommand, recoveryCommand, migrateInstallationCommand, versionCommand]) y = register(y);
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
