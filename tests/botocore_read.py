"""Print what botocore (the AWS CLI's parser) reads from a credentials file, as JSON.

Usage: botocore_read.py FILE [PROFILE...]

Prints {"sections": {name: {key: value}}, "credentials": {profile: [access, secret]}} or
{"error": "<exception type>"} when botocore cannot read the file. Used by the Rust
integration tests; it reads only the file it is given.
"""

import json
import os
import sys

import botocore.configloader
import botocore.exceptions
import botocore.session


def credentials_for(path, profile):
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = path
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ.pop("AWS_PROFILE", None)
    session = botocore.session.Session(profile=profile)
    # Only the shared-credentials provider: never environment or instance metadata.
    resolver = session.get_component("credential_provider")
    creds = resolver.get_provider("shared-credentials-file").load()
    if creds is None:
        return None
    frozen = creds.get_frozen_credentials()
    return [frozen.access_key, frozen.secret_key]


def main():
    path = sys.argv[1]
    try:
        sections = botocore.configloader.raw_config_parse(path, parse_subsections=True)
    except botocore.exceptions.ConfigParseError as err:
        print(json.dumps({"error": type(err).__name__}))
        return
    result = {"sections": sections, "credentials": {}}
    for profile in sys.argv[2:] or list(sections):
        try:
            result["credentials"][profile] = credentials_for(path, profile)
        except botocore.exceptions.BotoCoreError as err:
            # A profile with half a key pair, say: botocore refuses just that profile.
            result["credentials"][profile] = {"error": type(err).__name__}
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
