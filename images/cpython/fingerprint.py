"""Print this image's fingerprint as JSON: what it is, in a form two machines can compare.

Run once at the end of the image build; `invoke doctor` shows the digest and
`invoke doctor --compare` diffs the fields. Nothing here depends on the machine or the time
of the build, so identical inputs give identical output. Besides Python itself it covers
what makes two environments differ under the same Python: every Debian package (libc,
OpenSSL, gcc, ...), the C compiler and the base image's rootfs identity.

    fingerprint.py                       the facts of this image (LAB_* from the build)
    fingerprint.py --inherit FILE        ... taking the build facts that LAB_* leaves
                                         unset from FILE (an image built on another one)
"""

import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
import sysconfig

# What the build says, by environment variable: {field: variable}.
BUILD_FACTS = {
    "variant": "LAB_VARIANT",
    "optimize": "LAB_OPTIMIZE",
    "source_sha256": "LAB_SOURCE_SHA256",
    "base_image": "LAB_BASE_IMAGE",
    "base_rootfs": "LAB_BASE_ROOTFS",
}


def debian_packages() -> dict[str, str]:
    """Every installed Debian package, name (with :arch where dpkg shows one) -> version."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${binary:Package}\t${Version}\t${db:Status-Abbrev}\n"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = (line.split("\t") for line in out.splitlines())
    installed = (row[:2] for row in rows if row[2].startswith("ii"))
    return dict(sorted(installed))


def compiler() -> str:
    """The C compiler CPython was built with, as it names itself (`gcc --version`'s line)."""
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")[0]
    done = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False)
    return (done.stdout.splitlines() or [f"{cc}: not found"])[0]


def digest(value) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def describe(inherited: dict) -> dict:
    packages = {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions()}
    debs = debian_packages()
    build = {key: os.environ.get(var) or inherited.get(key) for key, var in BUILD_FACTS.items()}
    return {
        **build,
        "python": platform.python_version(),
        "executable": os.path.basename(os.path.realpath(sys.executable)),
        "configure_args": sysconfig.get_config_var("CONFIG_ARGS"),
        "Py_GIL_DISABLED": sysconfig.get_config_var("Py_GIL_DISABLED"),
        "Py_DEBUG": sysconfig.get_config_var("Py_DEBUG"),
        "machine": platform.machine(),
        "compiler": compiler(),
        "packages": dict(sorted(packages.items())),
        "debian_packages": debs,
        "debian_packages_digest": digest(debs),
    }


def main() -> None:
    inherited = {}
    if sys.argv[1:2] == ["--inherit"]:
        with open(sys.argv[2]) as previous:
            inherited = json.load(previous)
    facts = describe(inherited)
    facts["digest"] = digest(facts)
    print(json.dumps(facts, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
