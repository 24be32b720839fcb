#!/bin/bash
# docs_links: README.md and docs/*.md point only at what the repository
# holds. Checked, outside fenced code blocks:
#   * every relative Markdown link, [text](path) or [label]: path, taken
#     against the folder of the file that holds it;
#   * every repository path in backticks, alone (`etc/ups-snmp.json`) or
#     inside a command (`floe check-config -c etc/floe.json`), taken against
#     the top of the repository: a word with a '/' whose first segment is a
#     tracked top-level file or folder, or that starts with ./ or ../.
# Each must name a tracked file or folder inside the repository: a path
# that leaves it (../shared/...) fails even where it exists on this
# machine, since a reader of the repository does not have it. Words
# like NAME, FILE and ID are placeholders and '*' a wildcard: such a path
# must match at least one tracked file. Paths under untracked folders
# (build/) and absolute paths (/etc/floe/...) are not the repository's.
#   tests/integration/docs_links.sh [BUILD]   (BUILD is not used)
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh

# check_docs NAME=DISKPATH...: one line per problem ("FILE:LINE: ..."),
# then "checked N" per file on stderr. NAME is the file's place in the
# repository, DISKPATH where to read it.
check_docs() {
    /usr/bin/python3 - "$@" <<'PY'
import fnmatch, os, posixpath, re, subprocess, sys

out = subprocess.run(["git", "ls-files", "-z"], capture_output=True, check=True).stdout
tracked = {f for f in out.decode().split("\0") if f}
folders = {posixpath.dirname(f) for f in tracked}
for d in list(folders):
    while d:
        folders.add(d)
        d = posixpath.dirname(d)
folders.discard("")
everything = tracked | folders
top = {f.split("/", 1)[0] for f in tracked}
PLACEHOLDERS = ("NAME", "FILE", "ID", "DIR")

def problem_with(path, base):
    """None when path (relative to the repository folder base) names
    something tracked, else why not."""
    joined = posixpath.normpath(posixpath.join(base, path))
    if joined == ".":
        return None
    if joined == ".." or joined.startswith("../"):
        return "is outside the repository"
    if joined in everything:
        return None
    pattern = joined
    for word in PLACEHOLDERS:
        pattern = re.sub(r"\b%s\b" % word, "*", pattern)
    if pattern != joined or "*" in joined:
        if any(fnmatch.fnmatchcase(f, pattern) for f in everything):
            return None
        return "matches no tracked file"
    return "does not exist in the repository"

LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
SPAN = re.compile(r"(`+)(.+?)\1")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
PATHWORD = re.compile(r"^[A-Za-z0-9_.*{}-]+(/[A-Za-z0-9_.*{}-]+)*/?$")

for arg in sys.argv[1:]:
    name, disk = arg.split("=", 1)
    base = posixpath.dirname(name)
    checked = 0
    fenced = False
    for lineno, line in enumerate(open(disk, encoding="utf-8"), 1):
        if re.match(r"^\s{0,3}(```|~~~)", line):
            fenced = not fenced
            continue
        if fenced:
            continue
        for target in LINK.findall(line) + REFDEF.findall(line):
            if SCHEME.match(target) or target.startswith("#"):
                continue
            target = target.split("#", 1)[0]
            checked += 1
            why = problem_with(target, base)
            if why:
                print("%s:%d: link %s %s" % (name, lineno, target, why))
        for _, span in SPAN.findall(line):
            for word in span.split():
                word = word.strip("\"'(),;:")
                if "/" not in word or word.startswith("/") or "//" in word:
                    continue
                if not PATHWORD.match(word):
                    continue
                first = word.split("/", 1)[0]
                if first not in top and first not in (".", ".."):
                    continue
                checked += 1
                why = problem_with(word, "")
                if why:
                    print("%s:%d: `%s` %s" % (name, lineno, word, why))
    print("%s: checked %d" % (name, checked), file=sys.stderr)
PY
}

docs=(README.md docs/*.md)
args=()
for f in "${docs[@]}"; do args+=("$f=$f"); done
check_docs "${args[@]}" >"$TMP/problems" 2>"$TMP/counts"
for f in "${docs[@]}"; do
    n=$(sed -n "s|^$f: checked \([0-9]*\)$|\1|p" "$TMP/counts")
    if grep -q "^$f:" "$TMP/problems"; then
        while IFS= read -r line; do not_ok "$line"; done < <(grep "^$f:" "$TMP/problems")
    elif [ -z "$n" ]; then
        not_ok "$f: not checked: $(cat "$TMP/counts")"
    else
        ok "$f: its $n links and repository paths exist"
    fi
done
# README names many files; finding none would mean the checker is blind.
n=$(sed -n 's|^README.md: checked \([0-9]*\)$|\1|p' "$TMP/counts")
check "README.md: the checker finds its paths (found ${n:-0})" [ "${n:-0}" -ge 10 ]

# The checker itself: each kind of bad reference in a page of docs/ is found.
cat >"$TMP/bad.md" <<'MD'
The contract is `../shared/SPEC.md`; [the API](api-nope.md), [up](../../x.md).
See `etc/nope.json`, run `floe check-config -c etc/missing.json`, and
`tests/replay/NAME.xyz`. Fine: [SNMP](snmp.md#values), `docs/`, `tests/replay/NAME.csv`,
`/etc/floe/floe.json`, `build/floe`, [web](https://example.org/x).
```
`etc/in-a-code-block.json` is not prose
```
MD
check_docs "docs/bad.md=$TMP/bad.md" >"$TMP/bad.out" 2>/dev/null
cat >"$TMP/bad.want" <<'TXT'
docs/bad.md:1: link api-nope.md does not exist in the repository
docs/bad.md:1: link ../../x.md is outside the repository
docs/bad.md:1: `../shared/SPEC.md` is outside the repository
docs/bad.md:2: `etc/nope.json` does not exist in the repository
docs/bad.md:2: `etc/missing.json` does not exist in the repository
docs/bad.md:3: `tests/replay/NAME.xyz` matches no tracked file
TXT
if diff -u "$TMP/bad.want" "$TMP/bad.out" >"$TMP/bad.diff"; then
    ok "the checker reports paths outside the repository, missing files and links"
else
    not_ok "the checker's findings on a bad page differ: $(cat "$TMP/bad.diff")"
fi

finish
