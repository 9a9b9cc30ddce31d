"""Checks the built .deb and .rpm: file lists, conffiles, and maintainer scripts.

`check_packages.py DEB RPM`. Both packages must ship the binary, the unit, the preset, the
example config as a kept-on-upgrade config file, the man pages and the completions, and
their scripts must enable the unit through presets without ever starting it.
"""

import re
import subprocess
import sys

MAN_PAGES = ["canary-bootstrap", "canary-bootstrap-run", "canary-bootstrap-status",
             "canary-bootstrap-prepare-image", "canary-bootstrap-factory"]
COMMON = [
    "/usr/bin/canary-bootstrap",
    "/etc/canary-bootstrap/config.toml",
    "/usr/share/bash-completion/completions/canary-bootstrap",
    "/usr/share/fish/vendor_completions.d/canary-bootstrap.fish",
    "/usr/share/doc/canary-bootstrap/README.md",
    "/usr/share/doc/canary-bootstrap/examples/packer-provisioners.pkr.hcl",
    "/usr/share/doc/canary-bootstrap/examples/cloud-init-image-build.yaml",
]
DEB_FILES = COMMON + [
    "/lib/systemd/system/canary-bootstrap.service",
    "/lib/systemd/system-preset/90-canary-bootstrap.preset",
    "/usr/share/zsh/vendor-completions/_canary-bootstrap",
] + [f"/usr/share/man/man8/{page}.8.gz" for page in MAN_PAGES]
RPM_FILES = COMMON + [
    "/usr/lib/systemd/system/canary-bootstrap.service",
    "/usr/lib/systemd/system-preset/90-canary-bootstrap.preset",
    "/usr/share/zsh/site-functions/_canary-bootstrap",
] + [f"/usr/share/man/man8/{page}.8" for page in MAN_PAGES]
# A script line that would run the agent now: start, restart, or enable --now.
STARTS = re.compile(r"\b(start|restart|try-restart|reload-or-restart|isolate)\b|--now")

failures = []


def check(ok, message):
    print(("ok   " if ok else "FAIL ") + message)
    if not ok:
        failures.append(message)


def out(*command):
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def code_lines(script):
    return [line for line in script.splitlines() if line.strip() and
            not line.lstrip().startswith("#")]


def check_scripts(kind, scripts, enable_in):
    for name, text in scripts.items():
        starting = [line for line in code_lines(text) if STARTS.search(line)]
        check(not starting, f"{kind} {name} never starts the unit {starting or ''}")
    check("preset canary-bootstrap.service" in " ".join(code_lines(scripts[enable_in])),
          f"{kind} {enable_in} enables the unit with `systemctl preset`")


def check_deb(deb):
    listed = out("dpkg-deb", "--contents", deb)
    files = {line.split()[-1].lstrip(".") for line in listed.splitlines()
             if not line.startswith("d")}
    for path in DEB_FILES:
        check(path in files, f"deb ships {path}")
    conffiles = out("dpkg-deb", "--info", deb, "conffiles").split()
    check(conffiles == ["/etc/canary-bootstrap/config.toml"], f"deb conffiles {conffiles}")
    scripts = {name: out("dpkg-deb", "--info", deb, name) for name in
               ["postinst", "prerm", "postrm"]}
    check_scripts("deb", scripts, "postinst")
    unit = subprocess.run(f"dpkg-deb --fsys-tarfile '{deb}' | "
                          "tar -xO ./lib/systemd/system/canary-bootstrap.service",
                          shell=True, check=True, capture_output=True).stdout
    check(unit == open("systemd/canary-bootstrap.service", "rb").read(),
          "deb unit is systemd/canary-bootstrap.service")


def check_rpm(rpm):
    files = set(out("rpm", "-qpl", rpm).split())
    check(files == set(RPM_FILES), f"rpm -qpl lists exactly the expected files "
                                   f"(extra {sorted(files - set(RPM_FILES))}, "
                                   f"missing {sorted(set(RPM_FILES) - files)})")
    flags = dict(reversed(line.split(" ", 1)) for line in
                 out("rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]",
                     rpm).splitlines())
    check(flags.get("/etc/canary-bootstrap/config.toml") == "cn",
          "rpm config.toml is %config(noreplace)")
    text = out("rpm", "-qp", "--scripts", rpm)
    parts = re.split(r"^(\w+) scriptlet.*:$", text, flags=re.M)
    scripts = dict(zip(parts[1::2], parts[2::2]))
    print(f"rpm scriptlets: {sorted(scripts)}")
    check(set(scripts) == {"postinstall", "preuninstall", "postuninstall"},
          "rpm has post, preun and postun scriptlets")
    check("disable" in scripts.get("preuninstall", ""), "rpm preun disables the unit")
    check_scripts("rpm", scripts, "postinstall")


if __name__ == "__main__":
    check_deb(sys.argv[1])
    check_rpm(sys.argv[2])
    if failures:
        sys.exit(f"package checks: {len(failures)} failed")
