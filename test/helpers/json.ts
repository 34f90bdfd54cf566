/**
 * Every e2e --json assertion reads the document through jsonDoc: it must be
 * exactly one JSON document, and it must match its command's schema
 * (lib/cli/documents.ts, published as docs/schema/*.schema.json — the unit
 * test test/unit/cli/schema.test.ts keeps the files equal to these schemas).
 */
import assert from "node:assert/strict";
import { allDocuments, usageErrorSchema } from "../../lib/cli/documents.js";
import * as commands from "../../lib/cli/commands/index.js";

const schemas = allDocuments(Object.values(commands));

export function jsonDoc(stdout: string): ReturnType<typeof JSON.parse> {
  const doc = JSON.parse(stdout) as { command?: unknown };
  const schema = doc.command === null ? usageErrorSchema : schemas.get(String(doc.command));
  assert.ok(schema, `no schema for the document of command ${JSON.stringify(doc.command)}`);
  const r = schema.safeParse(doc);
  assert.ok(r.success, `the --json document of ${String(doc.command)} does not match docs/schema: ${r.success ? "" : JSON.stringify(r.error.issues.slice(0, 3))}\n${stdout.slice(0, 2000)}`);
  return doc;
}

/**
 * What runGpm calls after every run: a run with --json that exited (not killed
 * by a signal) must have printed exactly one document matching its schema.
 * `--help` prints help, not a document.
 */
export function checkJsonRun(args: readonly string[], r: { code: number | null; stdout: string }): void {
  if (!args.includes("--json") || r.code === null || args.includes("--help") || args.includes("-h")) return;
  assert.ok(r.stdout.trim(), `gpm ${args.join(" ")} exited ${r.code} with --json and printed no document`);
  const doc = jsonDoc(r.stdout) as { exitCode?: unknown };
  assert.equal(doc.exitCode, r.code, `gpm ${args.join(" ")}: the document's exitCode is not the exit code`);
}
