import type { Argv } from "yargs";
import { runCommand } from "../run.js";
import type { GlobalOptions } from "../context.js";
import { withInstallation } from "../session.js";
import { readLock, isLive } from "../../install/lock.js";

/**
 * `gpm repair` (SPEC section 4): what every command does first — finish or
 * undo an interrupted run, lower a dead run's maintenance flag — and nothing
 * else. Meant for boot (webserver/gpm-repair.service) and cron, so a site
 * killed mid-swap never waits for a person. A live gpm holding the lock is
 * left alone (its run is not ours to repair): one line, exit 0.
 */
export function repairCommand(y: Argv): Argv {
  return y.command(
    "repair",
    "finish or undo an interrupted run and lower a dead run's maintenance flag (for boot and cron)",
    (b) => b,
    (argv) =>
      runCommand("repair", argv as GlobalOptions, (ctx) =>
        withInstallation(ctx, "repair", "read", async ({ inst, recovered, locked }) => {
          const holder = locked ? undefined : await readLock(inst);
          const busy = holder && isLive(holder) ? `gpm pid ${holder.pid} (${holder.command}) is running; its run is not ours to repair` : null;
          const line = recovered ? recovered.summary : busy ? `nothing repaired: ${busy}` : "nothing to repair: no interrupted run";
          return { data: { changed: recovered !== null, actions: recovered?.actions ?? [], busy }, lines: [line] };
        }),
      ),
  );
}
