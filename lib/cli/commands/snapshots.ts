import { defineCommand } from "../spec.js";
import type { Session } from "../session.js";

const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;
const ID = { id: { type: "string", demandOption: true, describe: "snapshot id (see `gpm snapshots`)" } } as const;

/** `gpm snapshots [pin ID | unpin ID]` (SPEC section 4). */
export const snapshotsCommand = defineCommand({
  name: "snapshots",
  describe: "list manifests: id, kind, from → to, date, status, size, pinned, and which one the live tree came from; pin ID | unpin ID",
  mode: "read",
  subcommands: [
    defineCommand({
      name: "pin",
      describe: "keep a snapshot from retention",
      positionals: ID,
      mode: "write",
      result: (z) => ({ id: z.string(), pinned: z.boolean() }),
      load: async () => async ({ args, session }) => pin(session, args.id, true),
    }),
    defineCommand({
      name: "unpin",
      describe: "let retention prune a snapshot again (it still never prunes the way back from the live tree)",
      positionals: ID,
      mode: "write",
      result: (z) => ({ id: z.string(), pinned: z.boolean() }),
      load: async () => async ({ args, session }) => pin(session, args.id, false),
    }),
  ],
  examples: [["gpm snapshots", "list them; * marks the one whose tree is live"], ["gpm snapshots --json | jq '.snapshots[].id'", "ids for a script"]],
  exits: { 1: "error (not an installation, unreadable state)" },
  result: (z) => ({
    snapshots: z.array(
      z.object({ id: z.string(), kind: z.string(), from: z.string().nullable(), to: z.string(), date: z.string(), status: z.string(), size: z.number(), downtimeMs: z.number().nullable(), pinned: z.boolean(), liveSource: z.boolean() }),
    ),
    liveSource: z.string().nullable(),
  }),
  load: async () => {
    const [{ listSnapshots }, { paint }] = await Promise.all([import("../../pipeline/status.js"), import("../../util/color.js")]);
    return async ({ session: { inst } }) => {
      const rows = await listSnapshots(inst);
      const source = rows.find((r) => r.liveSource);
      const row = (live: string, id: string, kind: string, fromTo: string, date: string, status: string, size: string, pinned: string): string =>
        `${live} ${id.padEnd(34)} ${kind.padEnd(8)} ${fromTo.padEnd(18)} ${date.padEnd(25)} ${status.padEnd(10)} ${size.padStart(9)}  ${pinned}`.trimEnd();
      const lines = rows.length
        ? [
            row(" ", "ID", "KIND", "FROM → TO", "DATE", "STATUS", "SIZE", "PINNED"),
            ...rows.map((r) => row(r.liveSource ? paint.green("*") : " ", r.id, r.kind, `${r.from ?? "?"} → ${r.to}`, r.date, r.status, mb(r.size), r.pinned ? "pinned" : "")),
          ]
        : ["no snapshots"];
      if (source) lines.push(`${paint.green("*")} the live tree came from ${source.id}`);
      return { data: { snapshots: rows, liveSource: source?.id ?? null }, lines };
    };
  },
});

async function pin({ inst }: Session, id: string, pinned: boolean) {
  const { setPinned } = await import("../../store/way-back.js");
  const r = await setPinned(inst, id, pinned);
  const word = pinned ? "pinned" : "unpinned";
  return {
    changed: r.changed,
    data: { id: r.manifest.id, pinned: r.manifest.pinned === true },
    lines: [r.changed ? `${word} ${r.manifest.id}` : `${r.manifest.id} was already ${word}; nothing changed`],
  };
}
