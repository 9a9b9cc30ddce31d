"""Prints the first mirror URI that the host's apt sources use for a suite (argv[1]).

Reads /etc/apt/sources.list and /etc/apt/sources.list.d/ (one-line and deb822 formats), so
the boot test fetches Debian only from where this machine's apt already does.
"""

import glob
import sys


def one_line_sources(path):
    for line in open(path, encoding="utf-8", errors="replace"):
        words = line.split("#", 1)[0].split()
        if len(words) >= 3 and words[0] == "deb":
            words = [w for w in words[1:] if not w.startswith("[")]
            yield words[0], words[1:2]


def deb822_sources(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" not in fields.get("types", []) or fields.get("enabled") == ["no"]:
            continue
        for uri in fields.get("uris", []):
            yield uri, fields.get("suites", [])


def main():
    suite = sys.argv[1]
    found = []
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            found.extend(one_line_sources(path))
        except OSError:
            pass
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        found.extend(deb822_sources(path))
    for uri, suites in found:
        if suite in suites:
            print(uri)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
