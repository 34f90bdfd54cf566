import type { Argv } from "yargs";
import { runCommand } from "../run.js";
import type { GlobalOptions } from "../context.js";
import { withInstallation } from "../session.js";
import { installedVersion } from "../../install/installation.js";
import { currentManifest } from "../../store/manifest.js";
import { verifyTree } from "../../promote/verify-tree.js";
import { fail, Exit } from "../../util/errors.js";

export function verifyCommand(y: Argv): Argv {
  return y.command(
    "verify",
    "compare the live core files with the current manifest's hashes; list drift (exit 1 on drift)",
    (b) => b,
    (argv) =>
      runCommand("verify", argv as GlobalOptions, (ctx) =>
        withInstallation(ctx, "verify", "read", async ({ inst }) => {
          const installed = await installedVersion(inst);
          const m = await currentManifest(inst, installed);
          if (!m) throw fail(`no finalized manifest describes the installed ${installed ?? "version"}`, "verify works on trees installed by `gpm self-upgrade`");
          const { checked, drift } = await verifyTree(inst, m);
          return {
            code: drift.length ? Exit.ERROR : Exit.OK,
            data: { id: m.id, version: m.to, checked, drift },
            lines: drift.length
              ? [...drift.map((d) => `${d.kind.padEnd(8)} ${d.path}`), `${drift.length} file(s) drifted from ${m.id} (${checked} checked)`]
              : [`${checked} core files match ${m.id} (${m.to})`],
          };
        }),
      ),
  );
}
