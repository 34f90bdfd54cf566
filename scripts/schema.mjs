// npm run schema: write docs/schema/*.schema.json from the zod schemas of
// lib/cli/documents.ts and each command's spec (run after a build). A unit test
// (test/unit/cli/schema.test.ts) fails when the files are stale.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { jsonSchemaFiles } = await import(path.join(repo, "dist/lib/cli/documents.js"));
const commands = await import(path.join(repo, "dist/lib/cli/commands/index.js"));
const dir = path.join(repo, "docs/schema");
fs.mkdirSync(dir, { recursive: true });
const files = jsonSchemaFiles(Object.values(commands));
for (const f of fs.readdirSync(dir)) if (f.endsWith(".schema.json") && !files.has(f)) fs.rmSync(path.join(dir, f));
for (const [f, text] of files) fs.writeFileSync(path.join(dir, f), text);
console.log(`docs/schema: ${files.size} files`);
