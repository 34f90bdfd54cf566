import { defineCommand } from "../spec.js";
import type { Context } from "../context.js";
import type { MigrationPlan } from "../../migration/runner.js";
import type { PlannedStep } from "../../migration/types.js";

const stepLine = (s: PlannedStep): string => `  ${s.from}→${s.to} [${s.risk}] ${s.description}`;

/** `gpm migrate-installation [--dry-run]` (SPEC section 7). */
export const migrateInstallationCommand = defineCommand({
  name: "migrate-installation",
  describe: "bring the installation's own structure (.gpm/, records) to the current structure_version",
  options: { "dry-run": { type: "boolean", describe: "show the plan, change nothing" } },
  // Its own session: read or write is known only once the root has been looked at.
  mode: "none",
  load: async () => {
    const [{ open }, { withInstallation }, { migrateInstallation, planMigrations }] = await Promise.all([
      import("../context.js"),
      import("../session.js"),
      import("../../migration/runner.js"),
    ]);
    return async ({ ctx, args }) => {
      const dryRun = Boolean(args.dryRun);
      // The plan as it stands before the session: a write session applies the
      // pending `auto` steps first, and those belong in this command's report.
      const before = await planMigrations(await open(ctx)).catch(() => null);
      // An unmanaged root is left exactly as it is (not even a lock file is written).
      const mode = dryRun || (before && !before.managed) ? "read" : "write";
      return withInstallation(ctx, "migrate-installation", mode, async ({ inst }) => {
        const result = await migrateInstallation(inst, { log: ctx.log, dryRun, confirm: (plan) => confirm(ctx, plan) });
        const plan = before && before.managed ? before : result.plan;
        const structure = dryRun ? result.plan.current : result.structure;
        const applied = dryRun ? [] : plan.steps.filter((s) => s.to <= structure);
        const data = { dryRun, managed: plan.managed, from: plan.current, to: plan.target, structure, plan: plan.steps, applied };
        if (!plan.managed) {
          return { data, lines: [`unmanaged installation (no .gpm/metadata.json): nothing to migrate; its first upgrade records structure ${plan.target}`] };
        }
        if (plan.steps.length === 0) return { data, lines: [`structure is current (${structure})`] };
        if (dryRun) return { data, lines: [`structure ${plan.current} → ${plan.target}:`, ...plan.steps.map(stepLine), "dry run: nothing changed"] };
        return { data, lines: [...applied.map((s) => `applied ${s.from}→${s.to}: ${s.description}`), `structure is now ${structure}`] };
      });
    };
  },
});

/** A yes from --yes or from a person at a TTY; without either it is an error, never a silent yes (SPEC section 4). */
async function confirm(ctx: Context, plan: MigrationPlan): Promise<boolean> {
  if (ctx.yes) return true;
  const [{ fail }, { default: readline }] = await Promise.all([import("../../util/errors.js"), import("node:readline/promises")]);
  if (!ctx.interactive) throw fail("structure migration needs confirmation: pass --yes", "see the plan with `gpm migrate-installation --dry-run`");
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    process.stderr.write(`structure ${plan.current} → ${plan.target}:\n${plan.steps.map(stepLine).join("\n")}\n`);
    const answer = await rl.question("apply these steps? [y/N] ");
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
