"""Checks what one boot of the test tree did.

`check_boot.py STAGE TREE EMULATOR_STATE_DIR STATUS_FILE`, STAGE one of:
  first         the unit succeeded, one token issued and planted for alice after her own
                bytes, one "token planted" journal event with the token's fields
  again         nothing issued, alice's file byte-for-byte as after the first boot; the
                debug drop-in added before this boot brought debug events
  new-identity  one more token, which replaced the first in place; a second journal event
Every stage also checks that no issued secret reached the journal or the console log.
"""

import json
import os
import subprocess
import sys

MESSAGE_ID = "5b1e0c6a9f3d4c1e8a27d6b4f0c93e71"
CREDENTIALS = "home/alice/.aws/credentials"

failures = []


def check(ok, message):
    print(("ok   " if ok else "FAIL ") + message)
    if not ok:
        failures.append(message)


def unit_status(path):
    return dict(line.strip().split("=", 1) for line in open(path) if "=" in line)


def issued(emu):
    path = os.path.join(emu, "issued.jsonl")
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def journal(tree, *args):
    command = ["journalctl", "--directory", os.path.join(tree, "var/log/journal"),
               "--no-pager", *args]
    return subprocess.run(command, check=True, capture_output=True).stdout


def planted_events(tree):
    text = journal(tree, "--output=json", f"MESSAGE_ID={MESSAGE_ID}").decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def debug_events(tree):
    # tracing-journald maps DEBUG to priority 6 and TRACE to 7 (INFO is 5, notice).
    text = journal(tree, "--output=json", "SYSLOG_IDENTIFIER=canary-bootstrap",
                   "PRIORITY=6", "PRIORITY=7").decode()
    return [line for line in text.splitlines() if line.strip()]


def profile_block(key):
    return (f"[prod-admin]\naws_access_key_id = {key['access_key_id']}\n"
            f"aws_secret_access_key = {key['secret_access_key']}\n").encode()


def check_common(tree, status, tokens, work, emu):
    check(status.get("ActiveState") == "active" and status.get("Result") == "success"
          and status.get("ExecMainStatus") == "0", f"unit succeeded: {status}")
    check(status.get("UnitFileState") == "enabled", "unit is enabled")
    state = os.stat(os.path.join(tree, "var/lib/canary-bootstrap"))
    check(state.st_mode & 0o777 == 0o700, "state directory is 0700")
    everything = journal(tree, "--output=export")
    for name in sorted(os.listdir(work)):
        if name.startswith("boot") and name.endswith(".log"):
            everything += open(os.path.join(work, name), "rb").read()
    leaked = [t["canarytoken"] for t in tokens if t["secret_access_key"].encode() in everything]
    check(not leaked, f"no secret access key in the journal or console logs {leaked or ''}")
    factory_auth = open(os.path.join(emu, "factory_auth"), "rb").read().strip()
    check(factory_auth not in everything, "no factory auth in the journal or console logs")


def check_event(event, token, replaced):
    fields = {k: event.get(k) for k in ["TOKEN_ID", "USER", "PROFILE", "FILE", "REPLACED"]}
    expected = {"TOKEN_ID": token["canarytoken"], "USER": "alice", "PROFILE": "prod-admin",
                "FILE": "/" + CREDENTIALS, "REPLACED": replaced}
    check(fields == expected, f"planted event fields {fields}")
    check(event.get("_SYSTEMD_UNIT") == "canary-bootstrap.service",
          "planted event comes from canary-bootstrap.service")


def main(stage, tree, emu, status_file):
    work = os.path.dirname(tree)
    status = unit_status(status_file)
    tokens = issued(emu)
    path = os.path.join(tree, CREDENTIALS)
    content = open(path, "rb").read()
    original = open(os.path.join(work, "original_credentials"), "rb").read()
    snapshot = os.path.join(work, "credentials.after-first")
    events = planted_events(tree)
    check_common(tree, status, tokens, work, emu)

    if stage == "first":
        check(len(tokens) == 1, f"one token issued (got {len(tokens)})")
        check(content == original + b"\n" + profile_block(tokens[0])
              or content == original + profile_block(tokens[0]),
              "alice's file is her bytes plus the planted profile")
        meta = os.stat(path)
        check(meta.st_mode & 0o777 == 0o600, "credentials file is 0600")
        owner = int(subprocess.run(["chroot", tree, "id", "-u", "alice"], check=True,
                                   capture_output=True, text=True).stdout)
        check(meta.st_uid == owner, "credentials file is owned by alice")
        check(len(events) == 1, f"one planted event in the journal (got {len(events)})")
        if events:
            check_event(events[0], tokens[0], "false")
        check(not debug_events(tree), "no debug events at the default level")
        with open(snapshot, "wb") as f:
            f.write(content)
    elif stage == "again":
        check(len(tokens) == 1, f"no new token (issued {len(tokens)})")
        check(content == open(snapshot, "rb").read(), "alice's file is untouched")
        check(len(events) == 1, f"no new planted event (got {len(events)})")
        check(debug_events(tree), "the CANARY_BOOTSTRAP_LOG=debug drop-in adds debug events")
    elif stage == "new-identity":
        check(len(tokens) == 2, f"exactly one new token (issued {len(tokens)})")
        before = open(snapshot, "rb").read()
        if len(tokens) == 2:
            expected = before.replace(profile_block(tokens[0]), profile_block(tokens[1]))
            check(expected != before and content == expected,
                  "the old profile was replaced in place, every other byte kept")
        check(len(events) == 2, f"a second planted event (got {len(events)})")
        if len(events) == 2 and len(tokens) == 2:
            check_event(events[1], tokens[1], "true")
    else:
        sys.exit(f"unknown stage {stage}")

    if failures:
        sys.exit(f"boot check '{stage}': {len(failures)} failed")


if __name__ == "__main__":
    main(*sys.argv[1:5])
