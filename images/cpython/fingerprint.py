"""Print this image's fingerprint as JSON: what it is, in a form two machines can compare.

Run once at the end of the image build; `invoke doctor` shows the digest. Nothing here
depends on the machine or the time of the build, so identical inputs give identical output.
"""

import hashlib
import importlib.metadata
import json
import os
import platform
import sys
import sysconfig


def describe() -> dict:
    packages = {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions()}
    return {
        "variant": os.environ["LAB_VARIANT"],
        "python": platform.python_version(),
        "executable": os.path.basename(os.path.realpath(sys.executable)),
        "configure_args": sysconfig.get_config_var("CONFIG_ARGS"),
        "Py_GIL_DISABLED": sysconfig.get_config_var("Py_GIL_DISABLED"),
        "Py_DEBUG": sysconfig.get_config_var("Py_DEBUG"),
        "optimize": os.environ["LAB_OPTIMIZE"],
        "source_sha256": os.environ["LAB_SOURCE_SHA256"],
        "base_image": os.environ["LAB_BASE_IMAGE"],
        "machine": platform.machine(),
        "packages": dict(sorted(packages.items())),
    }


def main() -> None:
    facts = describe()
    canonical = json.dumps(facts, sort_keys=True, separators=(",", ":")).encode()
    facts["digest"] = hashlib.sha256(canonical).hexdigest()[:16]
    print(json.dumps(facts, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
