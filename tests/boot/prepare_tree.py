"""Sets up an installed Debian tree for the boot test.

`prepare_tree.py TREE CONSOLE_URL FACTORY_AUTH_FILE` writes the agent's settings (pointing at
the emulator on the host's loopback), the root-only factory auth, a product UUID file that
stands in for the DMI one, a target user `alice` whose credentials file already holds a
profile of her own, and a probe unit that records the agent's result and powers the
container off. A copy of alice's original file goes to TREE/../original_credentials.

`prepare_tree.py --new-identity TREE` gives the tree a new product UUID, as a clone of the
image would have. `prepare_tree.py --debug-log TREE` adds the drop-in the README gives for
debug logging.
"""

import os
import subprocess
import sys
import uuid

USER = "alice"
UUID_FILE = "etc/canary-boot-test/product_uuid"
ORIGINAL = (
    b"# alice's own keys; the agent must keep every byte\n"
    b"[other]\n"
    b"aws_access_key_id = AKIAALICEOWNKEY00001\n"
    b"aws_secret_access_key = alice/own/secret/not/a/canary/000000000\n"
    b"region=eu-west-1\n"
)
PROBE = """\
[Unit]
Description=Boot test: record canary-bootstrap's result, then power off
# Only ordering: the probe must not pull the agent in; the package's preset enables it.
After=canary-bootstrap.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /var/lib/boot-test && \
systemctl show canary-bootstrap.service -p ActiveState -p Result -p ExecMainStatus \
-p NRestarts -p UnitFileState > /var/lib/boot-test/status.tmp && \
mv /var/lib/boot-test/status.tmp /var/lib/boot-test/status'
ExecStartPost=/bin/systemctl --no-block poweroff

[Install]
WantedBy=multi-user.target
"""


def write(tree, path, data, mode, owner=(0, 0)):
    full = os.path.join(tree, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)
    os.chmod(full, mode)
    os.chown(full, *owner)


def new_identity(tree):
    write(tree, UUID_FILE, (str(uuid.uuid4()) + "\n").encode(), 0o644)


def debug_log(tree):
    dropin = "[Service]\nEnvironment=CANARY_BOOTSTRAP_LOG=debug\n"
    write(tree, "etc/systemd/system/canary-bootstrap.service.d/debug.conf", dropin.encode(),
          0o644)


def add_user(tree):
    subprocess.run(["chroot", tree, "useradd", "--create-home", "--shell", "/bin/sh", USER],
                   check=True)
    for line in open(os.path.join(tree, "etc/passwd")):
        fields = line.split(":")
        if fields[0] == USER:
            return int(fields[2]), int(fields[3])
    raise SystemExit(f"user {USER} missing after useradd")


def main(tree, console, factory_auth_file):
    settings = (
        f'console = "{console}"\n'
        "deadline_secs = 60\n"
        "[identity]\n"
        f'product_uuid_file = "/{UUID_FILE}"\n'
        "[[target]]\n"
        f'user = "{USER}"\n'
        'profile = "prod-admin"\n'
    )
    write(tree, "etc/canary-bootstrap/config.toml", settings.encode(), 0o644)
    with open(factory_auth_file, "rb") as f:
        write(tree, "etc/canary-bootstrap/factory_auth", f.read(), 0o600)
    new_identity(tree)

    uid, gid = add_user(tree)
    aws = os.path.join(tree, "home", USER, ".aws")
    os.makedirs(aws, mode=0o700)
    os.chown(aws, uid, gid)
    write(tree, f"home/{USER}/.aws/credentials", ORIGINAL, 0o600, (uid, gid))
    with open(os.path.join(os.path.dirname(tree), "original_credentials"), "wb") as f:
        f.write(ORIGINAL)

    write(tree, "etc/systemd/system/boot-test-probe.service", PROBE.encode(), 0o644)
    wants = os.path.join(tree, "etc/systemd/system/multi-user.target.wants")
    os.makedirs(wants, exist_ok=True)
    os.symlink("/etc/systemd/system/boot-test-probe.service",
               os.path.join(wants, "boot-test-probe.service"))


if __name__ == "__main__":
    if sys.argv[1] == "--new-identity":
        new_identity(sys.argv[2])
    elif sys.argv[1] == "--debug-log":
        debug_log(sys.argv[2])
    else:
        main(*sys.argv[1:4])
