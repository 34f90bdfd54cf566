import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { jsonSchemaFiles } from "../../../lib/cli/documents.js";
import * as commands from "../../../lib/cli/commands/index.js";
import { REPO } from "../../helpers/fixtures.js";

describe("unit: docs/schema is generated from the zod schemas", () => {
  it("every docs/schema/*.schema.json equals what `npm run schema` writes, and no stale file is left", () => {
    const dir = path.join(REPO, "docs/schema");
    const want = jsonSchemaFiles(Object.values(commands));
    const have = fs.readdirSync(dir).filter((f) => f.endsWith(".schema.json")).sort();
    assert.deepEqual(have, [...want.keys()].sort(), "docs/schema has other files than the commands: run `npm run schema`");
    for (const [file, text] of want) assert.equal(fs.readFileSync(path.join(dir, file), "utf8"), text, `docs/schema/${file} is stale: run \`npm run schema\``);
  });

  it("every command that can change something has `changed` in its document, and every command has a schema", () => {
    const files = jsonSchemaFiles(Object.values(commands));
    for (const name of ["self-upgrade", "rollback", "migrate-installation", "repair", "recovery-enable", "recovery-clear"]) {
      const text = files.get(`${name}.schema.json`);
      assert.ok(text, `no schema for ${name}`);
      assert.match(text, /"changed"/, `${name}'s schema has no changed`);
    }
    for (const text of files.values()) assert.match(text, /"apiVersion"/);
  });
});
