import { defineCommand } from "../spec.js";

export const rollbackCommand = defineCommand({
  name: "rollback",
  describe: "swap the live core with a stored snapshot's (default: the newest not already swapped); user/ stays live; the same id again is a redo",
  positionals: { "manifest-id": { type: "string", describe: "snapshot id (see `gpm snapshots`)" } },
  options: { "with-user": { type: "boolean", default: false, describe: "also swap user/ with the snapshot's copy (for a release whose migration damaged it); the snapshot then holding the replaced user/ is pinned" } },
  mode: "write",
  examples: [
    ["gpm rollback", "put back the tree the last upgrade replaced"],
    ["gpm rollback 20251018T101500Z-1.8.0", "swap with that snapshot (again: redo)"],
  ],
  exits: { 1: "error (or --with-user refused: user/ is a symlink, or the snapshot holds no user/)", 2: "usage", 3: "no snapshot to roll back to", 5: "another gpm holds the lock", 7: "the swap and its undo failed (recovery mode)" },
  result: (z, s) => ({ id: z.string(), direction: z.enum(["rollback", "redo"]), live: z.string(), withUser: z.boolean(), pinned: z.boolean(), requarantined: z.array(z.string()), downtimeMs: z.number(), manifest: s.manifest }),
  load: async () => {
    const { rollback } = await import("../../rollback/rollback.js");
    return async ({ ctx, args, session: { inst } }) => {
      const r = await rollback(inst, args.manifestId, { log: ctx.log, withUser: args.withUser === true });
      const verb = r.direction === "rollback" ? "rolled back" : "redid";
      return {
        changed: true,
        data: { id: r.manifest.id, direction: r.direction, live: r.live, withUser: r.withUser, pinned: r.manifest.pinned, requarantined: r.requarantined, downtimeMs: r.downtimeMs, manifest: r.manifest },
        lines: [
          `${verb} ${r.manifest.id}: ${r.live} is live (downtime ${r.downtimeMs} ms); ${r.withUser ? "user/ swapped too" : "user/ stayed live"}; the other tree is kept in the snapshot — \`gpm rollback ${r.manifest.id}${r.withUser ? " --with-user" : ""}\` swaps back`,
          ...(r.withUser ? [`snapshot ${r.manifest.id} is pinned (it holds the user/ that was replaced); \`gpm snapshots unpin ${r.manifest.id}\` releases it`] : []),
          ...(r.requarantined.length ? [`quarantined plugins disabled again: ${r.requarantined.join(", ")}`] : []),
        ],
      };
    };
  },
});
