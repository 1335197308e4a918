"""scripts/install-nvidia-toolkit.sh, on recorded machine states: every decision, and the
install path with NVIDIA's key checked against the pin before apt sees the repository.

The script runs with a PATH of fakes (nvidia-smi, docker, nvidia-ctk, apt-get, curl,
gpg, systemctl, sudo) that replay recorded outputs and log their calls, beside the
handful of real tools it needs; nothing on this machine is changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.config import ROOT

SCRIPT = ROOT / "scripts" / "install-nvidia-toolkit.sh"
MACHINES = Path(__file__).parent / "machines"
PIN = "C95B321B61E88C1809C4F759DDCAE044F796ECB0"
REAL_TOOLS = (
    "bash", "python3", "awk", "sed", "tr", "mktemp", "install", "id", "head", "tail", "cat",
    "rm", "seq", "sleep", "dirname", "env", "mkdir", "pgrep", "cp", "chmod",
)  # fmt: skip

FAKE = {
    # nvidia-smi: answers with the recorded `-L`, or fails as with no driver loaded.
    "nvidia-smi": """
if [ -n "${FAKE_SMI_FAILS:-}" ]; then cat "$MACHINES/nvidia-smi-no-driver.txt"; exit 9; fi
cat "$MACHINES/nvidia-smi-h200-L.txt"
""",
    # docker: `info` replays the recorded JSON; `run` sees the GPU unless told otherwise.
    "docker": """
echo "docker $*" >>"$CALLS"
case $1 in
  info) [ -n "${FAKE_NO_ENGINE:-}" ] && exit 1; cat "$FAKE_INFO" ;;
  run) if [ -n "${FAKE_RUN_FAILS:-}" ]; then
         echo 'could not select device driver "" with capabilities: [[gpu]]' >&2; exit 125
       fi
       cat "$MACHINES/nvidia-smi-h200-L.txt" ;;
esac
""",
    "nvidia-ctk": 'echo "nvidia-ctk $*" >>"$CALLS"',
    # apt-get: installing the toolkit puts (a fake) nvidia-ctk on PATH, as the package does.
    "apt-get": """
echo "apt-get $*" >>"$CALLS"
case "$*" in *" nvidia-container-toolkit"*)
  printf '#!/bin/bash\\necho "nvidia-ctk $*" >>"$CALLS"\\n' >"$(dirname "$0")/nvidia-ctk"
  chmod 755 "$(dirname "$0")/nvidia-ctk" ;;
esac
""",
    "systemctl": 'echo "systemctl $*" >>"$CALLS"',
    "sudo": 'echo "sudo $1" >>"$CALLS"; exec "$@"',
    # curl: "downloads" the key file the test chose.
    "curl": """
echo "curl $*" >>"$CALLS"
while [ $# -gt 0 ]; do [ "$1" = -o ] && { cp "$FAKE_KEY" "$2"; exit 0; }; shift; done
""",
    # gpg: --show-keys prints the key file's own colon listing (the test writes it);
    # --dearmor copies it.
    "gpg": """
echo "gpg $*" >>"$CALLS"
for last; do :; done
case " $* " in
  *" --show-keys "*) cat "$last" ;;
  *" --dearmor "*) while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done; cp "$last" "$out" ;;
esac
""",
}


@pytest.fixture
def machine(tmp_path: Path):
    """A function that runs the script on a machine state and returns (rc, out, calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in REAL_TOOLS:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)

    def run(info: str | dict | None, *args: str, tools=("nvidia-smi",), **env: str):
        for name in tools:
            fake = bin_dir / name
            fake.write_text("#!/bin/bash\n" + FAKE[name])
            fake.chmod(0o755)
        info_file = tmp_path / "info.json"
        if isinstance(info, dict):
            info_file.write_text(json.dumps(info))
        elif info:
            shutil.copy(MACHINES / info, info_file)
        calls = tmp_path / "calls"
        calls.write_text("")
        done = subprocess.run(
            ["bash", str(SCRIPT), *args],
            capture_output=True, text=True, timeout=60, check=False,
            env={"PATH": str(bin_dir), "MACHINES": str(MACHINES), "CALLS": str(calls),
                 "FAKE_INFO": str(info_file), "HOME": str(tmp_path),
                 "LAB_NVIDIA_KEYRING": str(tmp_path / "keyring.gpg"),
                 "LAB_NVIDIA_SOURCES": str(tmp_path / "nvidia.list"), **env},
        )  # fmt: skip
        return done.returncode, done.stdout + done.stderr, calls.read_text().splitlines()

    return run


def cdi_info(tmp_path: Path, spec: str | None) -> dict:
    """The recorded Docker 28 `docker info` with CDI on, its spec folder in TMP_PATH."""
    info = json.loads((MACHINES / "docker-info-ubuntu-cdi.json").read_text())
    folder = tmp_path / "cdi"
    folder.mkdir()
    if spec:
        shutil.copy(MACHINES / "cdi" / spec, folder / spec)
    info["CDISpecDirs"] = [str(folder), str(tmp_path / "absent")]
    return info


ALL = ("nvidia-smi", "docker")


# -- the decisions (--decide changes nothing) --------------------------------------------
def test_no_nvidia_smi_is_no_gpu(machine) -> None:
    rc, out, calls = machine("docker-info-ubuntu-plain.json", "--decide", tools=("docker",))
    assert rc == 0 and out.startswith("no-gpu:"), out
    assert calls == [], "no engine question where there is no GPU"


def test_a_driver_that_does_not_answer_is_no_gpu(machine) -> None:
    _, out, _ = machine("docker-info-ubuntu-plain.json", "--decide", tools=ALL, FAKE_SMI_FAILS="1")
    assert out.startswith("no-gpu:"), out


def test_gpu_without_engine_says_install_docker_first(machine) -> None:
    _, out, _ = machine(None, "--decide", tools=ALL, FAKE_NO_ENGINE="1")
    assert out.startswith("no-engine:") and "install-docker.sh" in out, out


def test_registered_runtime_is_ready(machine) -> None:
    _, out, _ = machine("docker-info-ubuntu-nvidia-runtime.json", "--decide", tools=ALL)
    assert out.startswith("ready-runtime:"), out


def test_a_cdi_spec_the_engine_reads_is_ready(machine, tmp_path) -> None:
    _, out, _ = machine(cdi_info(tmp_path, "nvidia.yaml"), "--decide", tools=ALL)
    assert out.startswith("ready-cdi:"), out


def test_a_cdi_spec_for_another_vendor_is_not(machine, tmp_path) -> None:
    _, out, _ = machine(cdi_info(tmp_path, "intel.yaml"), "--decide", tools=ALL)
    assert out.startswith("install:"), out


def test_plain_engine_without_toolkit_installs(machine) -> None:
    _, out, _ = machine("docker-info-ubuntu-plain.json", "--decide", tools=ALL)
    assert out.startswith("install:"), out


def test_plain_engine_with_toolkit_only_configures(machine) -> None:
    tools = (*ALL, "nvidia-ctk")
    _, out, _ = machine("docker-info-ubuntu-plain.json", "--decide", tools=tools)
    assert out.startswith("configure:"), out


@pytest.mark.parametrize(
    "info", ["docker-info-desktop-windows.json", "docker-info-rootless.json",
             "docker-info-podman-rootless.json"],
)  # fmt: skip
def test_desktop_and_rootless_engines_are_left_to_their_own_means(machine, info) -> None:
    _, out, _ = machine(info, "--decide", tools=ALL)
    assert out.startswith("by-hand:"), out


# -- the actions ---------------------------------------------------------------------------
def colon_listing(tmp_path: Path, *primaries: str, subkey: str = "A" * 40) -> Path:
    """A key file whose `gpg --show-keys --with-colons` listing names PRIMARIES."""
    lines = []
    for fpr in primaries:
        lines += ["pub:-:4096:1:DDCAE044F796ECB0:1500000000:::-:::scESC::::::23::0:",
                  f"fpr:::::::::{fpr}:", "sub:-:4096:1:0:1500000000::::::e::::::23:",
                  f"fpr:::::::::{subkey}:"]  # fmt: skip
    key = tmp_path / "gpgkey"
    key.write_text("\n".join(lines) + "\n")
    return key


FULL = (*ALL, "apt-get", "curl", "gpg", "systemctl", "sudo")


def test_install_with_the_pinned_key_installs_configures_restarts_and_checks(
    machine, tmp_path
) -> None:
    key = colon_listing(tmp_path, PIN)
    rc, out, calls = machine("docker-info-ubuntu-plain.json", tools=FULL, FAKE_KEY=str(key))
    assert rc == 0, out
    sources = (tmp_path / "nvidia.list").read_text()
    assert "https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /" in sources
    assert f"signed-by={tmp_path / 'keyring.gpg'}" in sources
    steps = [c for c in calls if c.split()[0] in ("curl", "apt-get", "systemctl", "docker")]
    order = [
        next(i for i, c in enumerate(steps) if c.startswith("curl")),
        next(i for i, c in enumerate(steps) if "install -y -qq nvidia-container-toolkit" in c),
        next(i for i, c in enumerate(steps) if c == "systemctl restart docker"),
        next(i for i, c in enumerate(steps) if c.startswith("docker run")),
    ]
    assert order == sorted(order), steps
    assert "nvidia-ctk runtime configure --runtime=docker" in calls
    assert "docker run --rm --gpus all debian:trixie-20251020-slim nvidia-smi -L" in calls
    assert "a container sees: GPU 0: NVIDIA H200" in out


@pytest.mark.parametrize(
    "primaries", [("0" * 40,), (PIN, "B" * 40), ()], ids=["other key", "pin plus another", "none"]
)
def test_any_other_key_installs_nothing(machine, tmp_path, primaries) -> None:
    key = colon_listing(tmp_path, *primaries)
    rc, out, calls = machine("docker-info-ubuntu-plain.json", tools=FULL, FAKE_KEY=str(key))
    assert rc == 1 and "not the pinned one" in out and PIN in out, out
    assert not (tmp_path / "nvidia.list").exists() and not (tmp_path / "keyring.gpg").exists()
    assert not [c for c in calls if "nvidia-container-toolkit" in c or "nvidia-ctk" in c]


def test_a_subkey_with_the_pinned_fingerprint_is_not_the_key(machine, tmp_path) -> None:
    key = colon_listing(tmp_path, "0" * 40, subkey=PIN)
    rc, out, _ = machine("docker-info-ubuntu-plain.json", tools=FULL, FAKE_KEY=str(key))
    assert rc == 1 and "not the pinned one" in out, out


def test_ready_runtime_only_checks(machine) -> None:
    rc, out, calls = machine("docker-info-ubuntu-nvidia-runtime.json", tools=FULL)
    assert rc == 0, out
    assert [c for c in calls if not c.startswith("docker info")] == [
        "docker run --rm --gpus all debian:trixie-20251020-slim nvidia-smi -L"
    ]


def test_ready_cdi_checks_with_the_cdi_device(machine, tmp_path) -> None:
    rc, out, calls = machine(cdi_info(tmp_path, "nvidia.json"), tools=FULL)
    assert rc == 0, out
    assert "docker run --rm --device nvidia.com/gpu=all debian:trixie-20251020-slim " \
        "nvidia-smi -L" in calls  # fmt: skip


def test_a_container_that_does_not_see_the_gpu_fails_in_one_line(machine) -> None:
    rc, out, _ = machine("docker-info-ubuntu-nvidia-runtime.json", tools=FULL, FAKE_RUN_FAILS="1")
    assert rc == 1
    (line,) = [line for line in out.splitlines() if line.startswith("install-nvidia-toolkit:")]
    assert "does not see the GPU" in line and "could not select device driver" in line


def test_no_gpu_changes_nothing(machine) -> None:
    rc, _, calls = machine("docker-info-ubuntu-plain.json", tools=FULL[1:])
    assert rc == 0 and calls == []


def test_the_pin_is_the_one_documented_in_the_script() -> None:
    assert f"KEY_FINGERPRINT={PIN}" in SCRIPT.read_text()
    assert os.access(SCRIPT, os.X_OK)
