// Mocha's spec reporter, plus one closing line `N passed, N failed` computed
// from mocha's own results (CI reads that line, not mocha's summary). Hook
// failures count as failures. Results also go to coverage/test-results.json.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const Mocha = require("mocha");
const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_RUN_END } = Mocha.Runner.constants;

class GpmReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0, failed = 0, skipped = 0;
    const failures = [];
    runner.on(EVENT_TEST_PASS, () => passed++);
    runner.on(EVENT_TEST_PENDING, () => skipped++);
    runner.on(EVENT_TEST_FAIL, (test, err) => { failed++; failures.push({ title: test.fullTitle(), error: String(err && err.message) }); });
    runner.once(EVENT_RUN_END, () => {
      try {
        fs.mkdirSync("coverage", { recursive: true });
        fs.writeFileSync(path.join("coverage", "test-results.json"), JSON.stringify({ passed, failed, skipped, failures }, null, 2));
      } catch {}
      process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`);
    });
  }
}
module.exports = GpmReporter;
