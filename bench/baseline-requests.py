"""Baseline for bench/boot-cost: the first-boot job as a Python `requests` script.

Asks the factory for an aws-id token (form POST over TLS, trusting only CA_FILE), checks
the answer, and appends a profile to the credentials file. No lock, no marker, no fsync,
no retries: the least a careful person would write.

Usage: baseline-requests.py CONSOLE FACTORY_AUTH_FILE CA_FILE CREDENTIALS_FILE [PROFILE]
"""

import os
import socket
import sys

import requests


def main():
    console, auth_file, ca_file, credentials = sys.argv[1:5]
    profile = sys.argv[5] if len(sys.argv) > 5 else "prod-admin"
    with open(auth_file, encoding="utf-8") as f:
        auth = f.read().strip()
    form = {"factory_auth": auth, "memo": socket.gethostname(), "kind": "aws-id"}
    answer = requests.post(
        console + "/api/v1/canarytoken/factory", data=form, verify=ca_file, timeout=30
    )
    answer.raise_for_status()
    body = answer.json()
    if body.get("result") != "success":
        sys.exit("the Console refused the request")
    token = body["canarytoken"]
    os.umask(0o077)
    os.makedirs(os.path.dirname(credentials), exist_ok=True)
    with open(credentials, "a", encoding="utf-8") as f:
        f.write(
            f"\n[{profile}]\naws_access_key_id = {token['access_key_id']}\n"
            f"aws_secret_access_key = {token['secret_access_key']}\n"
        )


if __name__ == "__main__":
    main()
