"""Print what botocore's parser reads from each of many files, one JSON line per file.

Usage: botocore_batch.py FILE...

Each line is {"sections": {name: {key: value}}} or, where botocore cannot read the file,
{"error": "<the exception botocore wraps>", "line": <1-based line or null>}. Used by the
property test to read a sample of generated files in one process; it reads only the files
it is given.
"""

import json
import sys

import botocore.configloader
import botocore.exceptions


def error_line(err):
    if getattr(err, "lineno", None) is not None:
        return err.lineno
    errors = getattr(err, "errors", None)
    if errors:
        return errors[0][0]
    return None


def read(path):
    try:
        sections = botocore.configloader.raw_config_parse(path, parse_subsections=True)
    except botocore.exceptions.ConfigParseError as err:
        inner = err.kwargs["error"]
        return {"error": type(inner).__name__, "line": error_line(inner)}
    return {"sections": sections}


def main():
    for path in sys.argv[1:]:
        print(json.dumps(read(path), sort_keys=True))


if __name__ == "__main__":
    main()
