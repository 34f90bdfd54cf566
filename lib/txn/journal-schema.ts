import { z } from "zod";
import { fail } from "../util/errors.js";
import type { Journal } from "./journal.js";

/**
 * The shape of `.gpm/journal.json`, checked when it is read: anyone who can
 * write the root can edit it, and a path that is a number or an object must
 * be one line naming the file, not a TypeError deep in the undo. Objects are
 * loose (a key added by a newer layout is kept, not refused); what is typed
 * here is what recovery reads.
 */
const id = z.looseObject({ dev: z.number(), ino: z.number(), birth: z.number().optional() });
const move = z.looseObject({
  from: z.string().min(1),
  to: z.string().min(1),
  dev: z.number(),
  ino: z.number(),
  birth: z.number().optional(),
  optional: z.boolean().optional(),
});
const journalSchema = z.looseObject({
  version: z.literal(1),
  kind: z.string(),
  manifestId: z.string().min(1),
  phase: z.string(),
  moves: z.array(move),
  copies: z.record(z.string(), id).default({}),
  undoCopies: z.record(z.string(), id).default({}),
  maintenanceFlag: z.string().min(1).nullable().default(null),
  postUpgradeStarted: z.boolean().default(false),
  topLevel: z.array(z.string().min(1)).optional(),
  userLink: z.looseObject({ target: z.string().min(1), real: z.string().min(1) }).optional(),
  meta: z.looseObject({}).default({}),
});

export function parseJournal(raw: unknown, file: string): Journal {
  const r = journalSchema.safeParse(raw);
  if (r.success) return r.data as unknown as Journal;
  const issue = r.error.issues[0]!;
  const where = issue.path.map(String).join(".") || "(top level)";
  throw fail(
    `${file} is damaged: ${where}: ${issue.message}; gpm will not act on it`,
    "put back the journal from a backup, or finish the interrupted run by hand as docs/RECOVERY.md (a damaged journal) describes",
  );
}
