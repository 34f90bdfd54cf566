import { GpmError, Exit, errorMessage, fail } from "../util/errors.js";
import type { Logger } from "../util/log.js";
import { readMetadata, updateMetadata, type Installation } from "../install/installation.js";
import { backupDir, discardBackup, discardStaleBackups, restoreBackup, takeBackup } from "./backup.js";
import { MIGRATIONS } from "./migrations/index.js";
import { describe, type Migration, type PlannedStep } from "./types.js";

/**
 * Brings gpm's own on-disk structure up to date (SPEC section 7), one version
 * at a time. Callers hold the installation lock. A root without
 * `.gpm/metadata.json` is unmanaged (structure 0): no command migrates it on
 * its own (its first upgrade records the current structure), and
 * `gpm migrate-installation` with a yes adopts it (step 0 → 1, then the rest).
 *
 * The `migrations` parameter exists so tests can run a failing step through
 * the real runner; production code uses the default list.
 */
export interface MigrationPlan {
  /** False for an unmanaged root (no metadata.json). */
  managed: boolean;
  current: number;
  target: number;
  steps: PlannedStep[];
}

export interface MigrateResult {
  plan: MigrationPlan;
  applied: PlannedStep[];
  structure: number;
}

function targetOf(migrations: readonly Migration[]): number {
  return migrations.reduce((max, m) => Math.max(max, m.to), 1);
}

/** The steps from the current structure to the newest one, in order. */
export async function planMigrations(inst: Installation, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationPlan> {
  const meta = await readMetadata(inst);
  const target = targetOf(migrations);
  const managed = meta !== undefined && meta.structure_version >= 1;
  const current = managed ? meta.structure_version : 0;
  if (current > target) {
    throw new GpmError(
      Exit.BLOCKED,
      `this installation's structure version is ${current}, newer than this gpm knows (${target})`,
      "use the gpm version that last managed it, or a newer one",
    );
  }
  const steps: Migration[] = [];
  for (let v = current; v < target; v++) {
    const m = migrations.find((x) => x.from === v);
    if (!m || m.to !== v + 1) throw fail(`no structure migration from ${v} to ${v + 1}`, "this is a bug in gpm; report it");
    steps.push(m);
  }
  return { managed, current, target, steps: steps.map(describe) };
}

/**
 * Apply pending `auto` steps, stopping before the first `prompt` one (which
 * gets one warning naming `gpm migrate-installation`). Writes nothing when
 * nothing is pending.
 */
export async function applyAutoMigrations(inst: Installation, log: Logger, migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
  const plan = await planMigrations(inst, migrations);
  if (!plan.managed) return;
  await discardStaleBackups(inst, plan.current);
  for (const step of plan.steps) {
    if (step.risk === "prompt") {
      log.warn(`structure migration ${step.from}→${step.to} needs \`gpm migrate-installation\``);
      return;
    }
    await runStep(inst, find(migrations, step), log);
  }
}

/**
 * `gpm migrate-installation`: every pending step, `auto` and `prompt`, after
 * `confirm(plan)` says yes. With `dryRun` only the plan is returned.
 */
export async function migrateInstallation(
  inst: Installation,
  opts: { log: Logger; dryRun?: boolean; confirm: (plan: MigrationPlan) => Promise<boolean>; migrations?: readonly Migration[] },
): Promise<MigrateResult> {
  const migrations = opts.migrations ?? MIGRATIONS;
  const plan = await planMigrations(inst, migrations);
  const applied: PlannedStep[] = [];
  if (plan.steps.length === 0 || opts.dryRun) return { plan, applied, structure: plan.current };
  if (!(await opts.confirm(plan))) throw fail("structure migration not confirmed; nothing was changed", "run `gpm migrate-installation --yes` to apply it");
  await discardStaleBackups(inst, plan.current);
  for (const step of plan.steps) {
    await runStep(inst, find(migrations, step), opts.log);
    applied.push(step);
  }
  return { plan, applied, structure: plan.target };
}

function find(migrations: readonly Migration[], step: PlannedStep): Migration {
  return migrations.find((m) => m.from === step.from && m.to === step.to)!;
}

/**
 * One step: back up what it touches, migrate, raise structure_version, drop
 * the backup. On failure: the step's rollback, else the backup put back
 * wholesale; structure_version stays at `from`, and the error names the step.
 */
async function runStep(inst: Installation, m: Migration, log: Logger): Promise<void> {
  const name = `structure migration ${m.from}→${m.to} (${m.description})`;
  await takeBackup(inst, m.from, m.to, await m.touches(inst), log);
  try {
    await m.migrate(inst, log);
  } catch (err) {
    log.error({ err: errorMessage(err) }, `${name} failed; rolling it back`);
    try {
      await m.rollback(inst, log);
    } catch (undoErr) {
      log.error({ err: errorMessage(undoErr) }, `rollback of structure migration ${m.from}→${m.to} failed; restoring its backup`);
      try {
        await restoreBackup(inst, m.from, m.to, log);
      } catch (restoreErr) {
        throw new GpmError(
          Exit.ERROR,
          `${name} failed (${errorMessage(err)}) and could not be undone (${errorMessage(restoreErr)})`,
          `the state before it is kept in ${backupDir(inst, m.from, m.to)}; put it back by hand, see docs/MIGRATIONS.md`,
        );
      }
    }
    await discardBackup(inst, m.from, m.to);
    throw new GpmError(Exit.ERROR, `${name} failed: ${errorMessage(err)}; it was rolled back and the structure stays at ${m.from}`, "fix the cause and run the command again");
  }
  await updateMetadata(inst, { structure_version: m.to });
  await discardBackup(inst, m.from, m.to);
  log.info(`structure migration ${m.from}→${m.to} applied: ${m.description}`);
}
