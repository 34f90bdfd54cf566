import type { Argv } from "yargs";
import { runCommand } from "../run.js";
import type { GlobalOptions } from "../context.js";
import { open } from "../context.js";
import { GPM_VERSION, installedVersion } from "../../install/installation.js";

export function versionCommand(y: Argv): Argv {
  return y.command(
    "version",
    "show gpm's version and the installed application version",
    (b) => b,
    (argv) =>
      runCommand("version", argv as GlobalOptions, async (ctx) => {
        // The app's version is a bonus here: `gpm version` answers outside an installation too.
        const app = await open(ctx)
          .then(installedVersion)
          .catch(() => null);
        return { data: { gpm: GPM_VERSION, application: app }, lines: [`gpm ${GPM_VERSION}`, `application ${app ?? "(unknown)"}`] };
      }),
  );
}
