#!/usr/bin/env bash
# docs_check.sh [ROOT] — the documentation names only what exists. Reads README.md and docs/*.md
# (of ROOT, default this repository) and checks, one PASS or FAIL line each:
#   docs_make_targets_exist      every `make TARGET` in a code block or `backticks` names a target
#                                the Makefile defines (bare target words only: paths are outputs
#                                of VARIANT-dependent rules)
#   docs_options_exist           every HAKMEM_* name is an option of alloc/option_table.h or a name
#                                the code reads, and every option is a row of README's options table
#   readme_options_table_matches_the_code
#                                each option row's values (words, MIN..MAX, path) and default are
#                                those of alloc/option_table.h
#   docs_statistics_table_is_the_codes
#                                README's statistics table is the one HAK_STATS_FIELDS gives
#   docs_paths_exist             every repository path in `backticks` exists (build outputs, install
#                                locations, absolute paths and patterns with < * $ { are not paths)
#   docs_design_table_lists_every_alloc_file
#                                the file table of docs/design.md ("## Files") names exactly the
#                                sources in alloc/ (every .c and .h)
#   docs_planted_bug_table_lists_every_patch
#                                docs/testing.md's planted-bug table has one row per mutants/*.patch
#   readme_is_for_users          README.md has at most 250 lines and opens (within 6 lines) with a
#                                code block whose first commands are make fuzz and make test; no doc
#                                refers to notes outside the repository
# Needs no build (python3 parses the Markdown); runs in well under 5 s. Exits 1 if any check failed.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || { echo "FAIL docs_check: no directory $root"; exit 1; }
docs=(README.md docs/*.md)
failed=0
pass() { echo "PASS $1 ($2)"; }
fail() {
    echo "FAIL $1: $2"
    failed=1
}

# extract FILE... — what the Markdown says, one item per line, as "kind<TAB>file<TAB>item":
#   make    the target words of every make command in fenced code blocks and inline code spans
#   hakmem  every HAKMEM_ name
#   path    every inline code span that looks like a relative path with a directory in it
extract() {
    python3 - "$@" <<'PY'
import re, sys

fence = re.compile(r"^\s*(```|~~~)")
for name in sys.argv[1:]:
    try:
        text = open(name, encoding="utf-8").read()
    except OSError:
        continue
    code_lines, prose = [], []
    inside = False
    for line in text.split("\n"):
        if fence.match(line):
            inside = not inside
            prose.append("")
            continue
        (code_lines if inside else prose).append(line)
    # Inline code spans, which may wrap across lines of a paragraph.
    spans = re.findall(r"`([^`]+)`", "\n".join(prose))
    # A comment in a code block (" # ...") is prose, not part of the command.
    commands = [re.sub(r"\s#.*$", "", l) for l in code_lines] + spans
    for c in commands:
        for m in re.finditer(r"(?:^|[\s;&|(])make((?:[ \t]+[^\s;&|)]+)*)", c.replace("\n", " ")):
            args = re.sub(r"\[[^\]]*\]", " ", m.group(1))  # [OPTIONAL=args] are not targets
            for word in args.split():
                if "=" in word or word.startswith("-"):
                    continue
                if re.fullmatch(r"[a-z][a-z0-9_-]*", word):
                    print(f"make\t{name}\t{word}")
                else:
                    break  # a path, a placeholder or prose: the command's words end here
    for n in re.findall(r"HAKMEM_[A-Z0-9_]*[A-Z0-9]", text):
        print(f"hakmem\t{name}\t{n}")
    for sp in spans:
        sp = sp.strip()
        if "/" in sp and re.fullmatch(r"\.?[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_.+-]*)+", sp):
            print(f"path\t{name}\t{sp}")
PY
}
items=$(extract "${docs[@]}")
if [ $? -ne 0 ] || [ -z "$items" ]; then
    echo "FAIL docs_check: the documentation could not be read (python3 missing, or no README.md and docs/)"
    exit 1
fi

# ---- docs_make_targets_exist ----------------------------------------------------------------------
# Every target the Makefile defines (phony ones included), as make itself sees them.
targets=$(make -pRrq -f Makefile : 2>/dev/null | awk -F: '
    /^# Not a target/ { skip = 1; next }
    /^[a-z][a-zA-Z0-9_.-]*:([^=]|$)/ { if (!skip) print $1; skip = 0; next }
    { skip = 0 }' | sort -u)
declare -A is_target=()
for t in $targets; do is_target[$t]=1; done
declare -A seen=()
bad=""
n=0
while IFS=$'\t' read -r kind file word; do
    [ "$kind" = make ] || continue
    n=$((n + 1))
    seen[$word]=1
    [ -n "${is_target[$word]:-}" ] || bad="$bad $file:'make $word'"
done <<<"$items"
if [ -z "$targets" ]; then
    fail docs_make_targets_exist "could not read the Makefile's targets (make -pRrq)"
elif [ -n "$bad" ]; then
    fail docs_make_targets_exist "no such Makefile target:$bad"
else
    pass docs_make_targets_exist "$n make commands name ${#seen[@]} distinct targets, all defined"
fi

# ---- docs_options_exist ---------------------------------------------------------------------------
options=$(grep -o '"HAKMEM_[A-Z0-9_]*"' alloc/option_table.h | tr -d '"' | sort -u)
declare -A is_option=()
for o in $options; do is_option[$o]=1; done
named=$(awk -F'\t' '$1 == "hakmem" { print $2 "\t" $3 }' <<<"$items" | sort -u)
bad=""
while IFS=$'\t' read -r file name; do
    [ -n "$name" ] || continue
    [ -n "${is_option[$name]:-}" ] && continue
    # Not an option: it must be a name the code itself reads or defines (a macro, a test knob).
    grep -rqsw --include='*.[ch]' --include='*.cc' --include='*.sh' --include='*.py' \
        --include=Makefile --include=run -- "$name" \
        alloc launcher fuzz tests bench larson stress mutants ci .ci .clusterfuzzlite Makefile ||
        bad="$bad $file:$name"
done <<<"$named"
missing=""
for o in $options; do
    grep -q "^| \`$o\` |" README.md || missing="$missing $o"
done
if [ -z "$options" ]; then
    fail docs_options_exist "no HAKMEM_ option found in alloc/option_table.h"
elif [ -n "$bad" ] || [ -n "$missing" ]; then
    why=""
    [ -z "$bad" ] || why="named but not read by the code:$bad"
    [ -z "$missing" ] || why="${why:+$why; }options missing from the options table of README.md:$missing"
    fail docs_options_exist "$why"
else
    pass docs_options_exist "$(cut -f2 <<<"$named" | sort -u | grep -c .) HAKMEM_ names in the docs exist; all $(grep -c . <<<"$options") options are rows of the options table of README.md"
fi

# ---- readme_options_table_matches_the_code ---------------------------------------------------------
# Each row's values (words, MIN..MAX range, or a path) and default are option_table.h's.
why=$(python3 - <<'PY'
import re
table = open("alloc/option_table.h").read().replace("\\\n", " ")
rows = re.findall(r'X\(\w+,\s*"(HAKMEM_\w+)",\s*"[\w-]+",\s*"([^"]*)",\s*"([^"]*)"', table)
readme = {}
for line in open("README.md"):
    m = re.match(r"\| `(HAKMEM_\w+)` \| ([^|]*(?:\\\|[^|]*)*) \| ([^|]*) \|", line)
    if m:
        readme[m.group(1)] = (m.group(2).strip().strip("`").replace("\\|", "|"),
                              m.group(3).strip().strip("`"))
bad = []
for var, values, default in rows:
    got = readme.get(var)
    want = ("any path" if values == "PATH" else values, default)
    if got != want:
        bad.append(f"{var}: README says {got}, the code {want}")
print("; ".join(bad) if rows else "no rows read from alloc/option_table.h")
PY
)
if [ -z "$why" ]; then
    pass readme_options_table_matches_the_code "every row's values and default are option_table.h's"
else
    fail readme_options_table_matches_the_code "$why"
fi

# ---- docs_statistics_table_is_the_codes ------------------------------------------------------------
python3 tests/stats_table.py --check README.md || failed=1

# ---- docs_paths_exist -----------------------------------------------------------------------------
# Not repository paths: build outputs, and the install layout and OSS-Fuzz's tree the docs describe.
not_repo='^(build|lib|include|bin|share|projects)/'
bad=""
n=0
while IFS=$'\t' read -r kind file path; do
    [ "$kind" = path ] || continue
    [[ $path =~ $not_repo ]] && continue
    n=$((n + 1))
    [ -e "$path" ] || bad="$bad $file:$path"
done <<<"$items"
if [ -n "$bad" ]; then
    fail docs_paths_exist "no such path in the tree:$bad"
else
    pass docs_paths_exist "$n repository paths named in the docs, all present"
fi

# ---- docs_design_table_lists_every_alloc_file -----------------------------------------------------
listed=$(awk '/^## / { in_files = ($0 == "## Files") } in_files' docs/design.md 2>/dev/null |
    sed -n 's/^| `alloc\/\([^`]*\)` |.*/\1/p' | sort)
# The sources: every .c and .h (a patch's .orig or .rej left beside them is not one).
present=$(find alloc -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \) -printf '%f\n' | sort)
absent=$(comm -23 <(echo "$present") <(echo "$listed") | grep . | paste -sd ' ' -)
extra=$(comm -13 <(echo "$present") <(echo "$listed") | grep . | paste -sd ' ' -)
twice=$(uniq -d <<<"$listed" | paste -sd ' ' -)
if [ -z "$listed" ]; then
    fail docs_design_table_lists_every_alloc_file "docs/design.md has no '## Files' table of alloc/ files"
elif [ -n "$absent$extra$twice" ]; then
    why=""
    [ -z "$absent" ] || why="not in the table: $absent"
    [ -z "$extra" ] || why="$why${why:+; }listed but not in alloc/: $extra"
    [ -z "$twice" ] || why="$why${why:+; }listed twice: $twice"
    fail docs_design_table_lists_every_alloc_file "$why"
else
    pass docs_design_table_lists_every_alloc_file "$(grep -c . <<<"$listed") files, exactly those of alloc/"
fi

# ---- docs_planted_bug_table_lists_every_patch -------------------------------------------------------
# The table of docs/testing.md (mutants/table.py rebuilds it from make mutants' results) has one
# row per mutants/*.patch, and no row for a patch that is gone.
if [ -d mutants ]; then
    tabled=$(awk '/^\| mutant \| what it breaks \| first failing check \| seconds \|/ { on = 1; next }
        on && /^\| `/ { sub(/^\| `/, ""); sub(/`.*/, ""); print; next } on && !/^\|/ { on = 0 }' \
        docs/testing.md | sort)
    patches=$(for p in mutants/*.patch; do basename "$p" .patch; done | sort)
    if [ "$tabled" = "$patches" ]; then
        pass docs_planted_bug_table_lists_every_patch "$(grep -c . <<<"$patches") planted bugs"
    else
        fail docs_planted_bug_table_lists_every_patch "not in docs/testing.md's table: \
$(comm -13 <(echo "$tabled") <(echo "$patches") | paste -sd' '); rows without a patch: \
$(comm -23 <(echo "$tabled") <(echo "$patches") | paste -sd' ') (mutants/table.py rebuilds the table)"
    fi
fi

# ---- readme_is_for_users --------------------------------------------------------------------------
why=""
lines=$(wc -l <README.md)
[ "$lines" -le 250 ] || why="$why README.md has $lines lines (at most 250);"
open=$(head -6 README.md | grep -n '^```' | head -1 | cut -d: -f1)
if [ -z "$open" ]; then
    why="$why no code block opens within README.md's first 6 lines;"
else
    first=$(tail -n +"$((open + 1))" README.md | awk '/^```/ { exit } NF' | head -2)
    grep -q '^make fuzz\b' <<<"$(sed -n 1p <<<"$first")" ||
        why="$why the opening code block's first command is not make fuzz;"
    grep -q '^make test\b' <<<"$(sed -n 2p <<<"$first")" ||
        why="$why the opening code block's second command is not make test;"
fi
outside=$(grep -lE 'DESIGN\.md|CURRENT_TASK|\.\./shared' "${docs[@]}" 2>/dev/null | paste -sd ' ' -)
[ -z "$outside" ] || why="$why refers to notes outside the repository: $outside;"
if [ -n "$why" ]; then
    why=${why# }
    fail readme_is_for_users "${why%;}"
else
    pass readme_is_for_users "README.md: $lines lines, opens with make fuzz and make test; no doc refers outside the repository"
fi

exit "$failed"
