#!/usr/bin/python3
"""Writes the copy of a demo agent config that `make demo` runs.

    configure.py TEMPLATE OUT PATH=VALUE...

TEMPLATE is one of etc/demo/agent-*.json (JSON with // and /* */
comments, as floe reads it); OUT gets it as plain JSON with each PATH
(`http.listen`, `modbus[0].port`, `peers[0].url`) set to VALUE: a JSON
value when VALUE parses as one (`1502`, `true`), else the string. A PATH
that the template does not have is an error (exit 1), so a changed
template cannot leave a default port or path silently in place; so is a
value of another JSON type than the template's (a port given as a word).
The template's relative paths (policies_dir) are made absolute, as floe
reads them relative to the config file's directory.
"""
import json
import os
import re
import sys


def strip_comments(text):
    """JSON text without // and /* */ comments, strings left whole."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def set_path(doc, path, value):
    """Sets doc at PATH (a.b[0].c); raises KeyError naming PATH if absent."""
    steps = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node = doc
    for k, step in enumerate(steps):
        key = int(step[1:-1]) if step.startswith("[") else step
        try:
            current = node[key]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"{path}: the template has no {step}") from None
        if k == len(steps) - 1:
            if type(current) is not type(value):
                raise KeyError(f"{path}: {value!r} is not a {type(current).__name__} like the template's")
            node[key] = value
        else:
            node = current


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    template, out = argv[1], argv[2]
    try:
        doc = json.loads(strip_comments(open(template, encoding="utf-8").read()))
        for arg in argv[3:]:
            path, _, raw = arg.partition("=")
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
            set_path(doc, path, value)
    except (OSError, ValueError, KeyError) as e:
        print(f"configure.py: {template}: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 1
    if "policies_dir" in doc:
        doc["policies_dir"] = os.path.join(os.path.dirname(os.path.abspath(template)), doc["policies_dir"])
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"// written by etc/demo/run.sh from {template}\n")
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(out + ".tmp", out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
