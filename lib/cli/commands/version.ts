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
        let app: string | null = null;
        try {
          app = await installedVersion(await open(ctx));
        } catch {
          app = null;
        }
        return { data: { gpm: GPM_VERSION, application: app }, lines: [`gpm ${GPM_VERSION}`, `application ${app ?? "(unknown)"}`] };
      }),
  );
}
