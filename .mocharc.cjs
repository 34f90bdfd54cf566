// Mocha appends the config's `spec` to the files named on the command line,
// so `npx mocha dist/test/e2e/x.test.js` used to run the whole suite (15 min
// on 2 cores). The glob applies only when no test file is named.
const named = process.argv.slice(2).some((a) => /\.test\.js$/.test(a) || a.startsWith("dist/test/"));
module.exports = {
  ...(named ? {} : { spec: ["dist/test/**/*.test.js"] }),
  timeout: 120000,
  slow: 2000,
  reporter: "./test/reporter.cjs",
};
