import { defineCommand } from "../spec.js";

/**
 * `gpm repair` (SPEC section 4): what every command does first — finish or
 * undo an interrupted run, lower a dead run's maintenance flag — and nothing
 * else. Meant for boot (webserver/gpm-repair.service) and cron, so a site
 * killed mid-swap never waits for a person. A live gpm holding the lock is
 * left alone (its run is not ours to repair): one line, exit 0.
 */
export const repairCommand = defineCommand({
  name: "repair",
  describe: "finish or undo an interrupted run and lower a dead run's maintenance flag (for boot and cron)",
  mode: "read",
  changes: true,
  examples: [["gpm repair", "after a crash or at boot: finish or undo what was interrupted"], ["gpm repair --json", "the same, for a script (changed says whether anything was done)"]],
  exits: { 1: "not an installation, or a state file is unreadable", 7: "the undo failed (recovery mode)" },
  result: (z, s) => ({ actions: z.array(s.repair), busy: z.string().nullable() }),
  load: async () => {
    const { readLock, isLive } = await import("../../install/lock.js");
    return async ({ session: { inst, recovered, locked } }) => {
      const holder = locked ? undefined : await readLock(inst);
      const busy = holder && isLive(holder) ? `gpm pid ${holder.pid} (${holder.command}) is running; its run is not ours to repair` : null;
      const line = recovered ? recovered.summary : busy ? `nothing repaired: ${busy}` : "nothing to repair: no interrupted run";
      return { changed: recovered !== null, data: { actions: recovered?.actions ?? [], busy }, lines: [line] };
    };
  },
});
