"""The Docker CLI, called as a learner would call it; every failure becomes one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lab import untrusted
from lab.config import COMPOSE_FILE, COMPOSE_GPU_FILE, ROOT, image_platform, platform_suffix
from lab.errors import LabError

# The GPU request as a CDI device, for an engine that reads CDI specs but has no nvidia runtime.
COMPOSE_CDI_FILE = ROOT / "compose.cdi.yaml"
INSTALL_HINT = "run `scripts/install-docker.sh` (Debian/Ubuntu) or start Docker"
NO_CLI = f"no `docker` command on PATH: {INSTALL_HINT}"


def command(args: Sequence[str]) -> list[str]:
    """`docker ARGS` as an argv: the one place the lab names the CLI."""
    return ["docker", *args]


def docker(args: Sequence[str], *, check: bool = True, timeout: float = 60) -> str:
    """Run `docker ARGS`, return its stdout; raise LabError with docker's own last line."""
    if not shutil.which("docker"):
        raise LabError(NO_CLI)
    try:
        done = subprocess.run(
            command(args), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise LabError(f"`docker {' '.join(args)}` did not answer in {timeout:.0f} s") from None
    if check and done.returncode != 0:
        raise LabError(f"`docker {' '.join(args[:3])}` failed: {telling_line(done.stderr)}")
    return done.stdout


def telling_line(stderr: str) -> str:
    """docker's most useful line: the last that names an error, else the last."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if any(word in line.lower() for word in ("error", "denied", "no such", "not found")):
            return line
    return lines[-1] if lines else "(no message)"


def error_line(
    stderr: bytes | str, stdout: bytes | str = "", limit: int = untrusted.MAX_TEXT
) -> str:
    """The one line that says why a `docker` command failed: telling_line of its STDERR
    (of its STDOUT where STDERR is empty), printable: an image or a registry wrote it."""
    said = [s.decode(errors="replace") if isinstance(s, bytes) else s for s in (stderr, stdout)]
    return untrusted.text(telling_line(next((s for s in said if s.strip()), "")), limit)


def popen(args: Sequence[str], **options: Any) -> subprocess.Popen:
    """`docker ARGS` started, for a caller that streams what it reads or writes (`docker
    save`, `load`, `push`); OPTIONS are subprocess.Popen's."""
    if not shutil.which("docker"):
        raise LabError(NO_CLI)
    return subprocess.Popen(command(args), **options)


def run_bounded(
    args: Sequence[str], limit: int, timeout: float, what: str
) -> tuple[int, bytes, bytes]:
    """`docker ARGS` whose output an image wrote: untrusted.run_bounded (exit code, stdout
    up to LIMIT bytes, stderr's head), one line past TIMEOUT seconds."""
    return untrusted.run_bounded(command(args), limit, timeout, what)


def remove(*names: str, timeout: float = 60) -> None:
    """Remove the containers NAMES (names or IDs), running or not; one already gone is fine."""
    if names:
        docker(["rm", "-f", *names], check=False, timeout=timeout)


def labelled(
    label: str, value: str | None = None, *, stopped: bool = True, timeout: float = 60
) -> list[str]:
    """The IDs of the containers with LABEL (set to VALUE, where given): a run's, found by
    its labels.RUN; STOPPED: those that exited too, else only the running ones."""
    wanted = f"label={label}" if value is None else f"label={label}={value}"
    everyone = ["-a"] if stopped else []
    return docker(["ps", "-q", *everyone, "--filter", wanted], check=False, timeout=timeout).split()


def short_id(digest: str) -> str:
    """What a line shows of an image ID or rootfs identity: 12 hex digits, `sha256:` dropped."""
    return digest.removeprefix("sha256:")[:12]


def engine_version() -> str | None:
    """The engine's version, or None when no engine answers."""
    try:
        out = docker(["version", "--format", "{{.Server.Version}}"], check=False, timeout=15)
    except LabError:
        return None
    return out.strip() or None


def engine_fix() -> str:
    """What to do where no engine answers: install one, or, where DOCKER_HOST names one
    (a socket here, or a student's engine on another machine), start that one: installing
    Docker would not make it answer."""
    if not shutil.which("docker"):
        return NO_CLI
    host = os.environ.get("DOCKER_HOST")
    if host and host.startswith("unix://"):  # this machine's, at a socket nothing serves
        path = host.removeprefix("unix://")
        start = podman_start(path) if "podman" in path else "start the engine that listens there"
        return (
            f"nothing answers at DOCKER_HOST={host}: {start}, "
            "or unset DOCKER_HOST for this machine's default engine"
        )
    if host:
        return (
            f"nothing answers at DOCKER_HOST={host}: start the engine there (with the lab at "
            "the same path there, or LAB_HOST_ROOT), or unset DOCKER_HOST for this machine's"
        )
    if shutil.which("podman") and not shutil.which("dockerd"):  # the lab speaks Docker's API
        return f"{podman_start(PODMAN_SOCKET)}, then export DOCKER_HOST=unix://{PODMAN_SOCKET}"
    return INSTALL_HINT


PODMAN_SOCKET = "/run/podman/podman.sock"  # rootful Podman's, where podman.socket listens


def podman_start(path: str) -> str:
    """How to start Podman's Docker API at the socket PATH: without --time=0 the service
    leaves after 5 s idle, and it does not make the socket's folder."""
    folder = os.path.dirname(path)
    made = "" if os.path.isdir(folder) else f"mkdir -p {folder} && "
    user = "--user " if path.startswith("/run/user/") else ""  # rootless: the user's systemd
    return (
        f"start Podman's service: `{made}podman system service --time=0 unix://{path} &` "
        f"(--time=0, or it leaves after 5 s idle), or `systemctl {user}enable --now "
        "podman.socket`"
    )


# `podman system service`'s idle timeout, as its command line gives it (5 s by default).
IDLE_FLAG = re.compile(r"(?:^| )(?:--time[= ]|-t ?)(\d+)(?= |$)")


def idle_seconds(argv: Sequence[str]) -> int | None:
    """How long `podman ... system service ARGV` waits idle before it leaves (0: never); None
    for another command, or one systemd hands its socket (it leaves, systemd starts it again)."""
    joined = " ".join(argv)
    named = argv and "podman" in os.path.basename(argv[0]) and " system service" in joined
    if not named or not any("://" in word for word in argv[1:]):
        return None
    found = IDLE_FLAG.search(joined)
    return int(found.group(1)) if found else 5


def podman_services(proc: Path = Path("/proc")) -> list[list[str]]:
    """The command lines of this machine's Podman processes ([] where there is no /proc)."""
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return []
    found = []
    for pid in pids:
        try:
            raw = (proc / pid / "cmdline").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        argv = [word.decode(errors="replace") for word in raw.split(b"\0") if word]
        if argv and "podman" in os.path.basename(argv[0]):
            found.append(argv)
    return found


def engine_answer(args: Sequence[str], timeout: float) -> dict:
    """`docker ARGS`' JSON object; {} where no engine answers or it is no object."""
    try:
        out = docker(args, check=False, timeout=timeout)
    except LabError:
        return {}
    try:
        answer = json.loads(out or "{}")
    except json.JSONDecodeError:
        return {}
    return answer if isinstance(answer, dict) else {}


def engine_server() -> dict:
    """`docker version`'s Server part as JSON; {} where no engine answers."""
    return engine_answer(["version", "--format", "{{json .Server}}"], 15)


PODMAN_COMPONENT = "Podman Engine"  # Podman's Docker API names its server components so


def engine_kind(server: dict, info: dict) -> str:
    """Docker, Podman, Docker Desktop, or either one rootless: from `docker version`'s
    Server (its components) and `docker info` (file_ownership)."""
    components = server.get("Components") or []
    names = {c.get("Name") for c in components if isinstance(c, dict)}
    kind = "Podman" if PODMAN_COMPONENT in names else "Docker"
    ownership = file_ownership(info)
    if ownership == ROOTLESS:
        return f"rootless {kind}"
    return "Docker Desktop" if ownership == MAPPED and kind == "Docker" else kind


def engine_is_local() -> bool:
    """Whether the engine runs on this machine (what is installed here is what it has)."""
    host = os.environ.get("DOCKER_HOST", "")
    return not host or host.startswith("unix://")


# Where Podman looks for the init that compose's `init: true` asks for (its init_path), and
# where Debian's package `catatonit` puts it.
CATATONIT_PATHS = (Path("/usr/libexec/podman/catatonit"), Path("/usr/bin/catatonit"))


def has_catatonit(paths: Sequence[Path] = CATATONIT_PATHS) -> bool:
    return any(path.exists() for path in paths)


# Words in an error that name the engine (its runtime, cgroups or API), not an image's
# contents: the engine's fault, whichever image it was asked to start.
ENGINE_FAULT_WORDS = (
    "cgroup", "oci runtime", "oci permission", "runc", "crun", "rlimit", "upgrade to tcp",
    "container-init", "catatonit", "shim", "cannot connect to the docker daemon",
    "error during connect",
)  # fmt: skip


def names_the_engine(error: str) -> bool:
    return any(word in error.lower() for word in ENGINE_FAULT_WORDS)


def engine_advice(error: str) -> str:
    """The one thing to do about an engine that cannot start containers."""
    lowered = error.lower()
    if "rlimit" in lowered:
        return (  # seen with Podman 4.3 as root: nofile (type 7) first, then nproc (type 6)
            "the engine may not raise containers' limits (Podman as root without "
            "CAP_SYS_RESOURCE): set default_ulimits in containers.conf's [containers], nofile "
            'and nproc at the service\'s own (e.g. ["nofile=20000:20000", "nproc=32768:32768"], '
            "from /proc/PID/limits), then restart the service"
        )
    if "catatonit" in lowered or "container-init" in lowered:
        return "Podman's init is missing: sudo apt-get install catatonit"
    if "upgrade to tcp" in lowered:
        return (
            "the container did not start and the engine's API refused the attach (Podman): "
            "`docker run -d` or the service's log shows why"
        )
    if "cgroup" in lowered:
        return "the engine cannot set up the container's cgroups: see its log, restart it"
    return "the engine's fault, not the images': see its log, restart or update it"


def engine_fault_line(error: str | None = None) -> str:
    """How the user is told of the engine's fault, wherever it shows (a station run,
    `invoke shell`, require_engine, doctor): ERROR, the engine's own line, and the one thing
    to do about it (engine_advice); no ERROR: no engine answers, and why (engine_fix)."""
    if error is None:
        fix = engine_fix()  # names what is missing, except where it is only the install hint
        return f"no Docker engine is running: {fix}" if fix == INSTALL_HINT else fix
    return f"{error} (fix: {engine_advice(error)})"


def start_failure(error: str) -> str:
    """Why a container did not start, as the user is told: docker's line ERROR, with the
    engine's advice where it names the engine (a station's 409, the shell's catatonit)."""
    return engine_fault_line(error) if names_the_engine(error) else error


def probe(image: str) -> str | None:
    """Start the smallest container from IMAGE (`true`, no network): None where it runs,
    else the engine's line. Detached, so that an engine whose attach fails (Podman's 409)
    still says why the container did not start."""
    argv = ["run", "-d", "--rm", "--network", "none", "--entrypoint", "true", image]
    try:
        done = subprocess.run(
            command(argv), capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return f"`docker run {image}` did not answer in 60 s"
    return None if done.returncode == 0 else telling_line(done.stderr)


# A registry that speaks plain HTTP, as Go's client words it (a registry, or any HTTP server).
PLAIN_HTTP = ("server gave http response to https client", "does not look like a tls handshake")


def registry_advice(error: str, registry: str) -> str:
    """For a pull from a plain-HTTP registry (Podman trusts none, not even one on
    127.0.0.1): where each engine is told so, or "" for other errors."""
    if not any(words in error.lower() for words in PLAIN_HTTP):
        return ""
    return (
        f"{registry} speaks plain HTTP: for Podman add a [[registry]] entry with location = "
        f'"{registry}" and insecure = true in a file of /etc/containers/registries.conf.d/, for '
        'Docker add it to "insecure-registries" in /etc/docker/daemon.json; then restart the '
        "engine"
    )


def require_engine() -> str:
    version = engine_version()
    if version is None:
        raise LabError(engine_fault_line())
    return version


def plugin_version(plugin: str) -> str | None:
    """`docker compose` / `docker buildx` version, or None when the plugin is missing."""
    try:
        out = docker([plugin, "version"], check=False, timeout=15).strip()
    except LabError:
        return None
    if not out or "is not a docker command" in out:
        return None
    return out.split()[-1] if plugin == "compose" else out.split()[1]


def image_labels(image: str) -> dict[str, str] | None:
    """The image's labels, or None when the image is not there."""
    out = docker(["image", "inspect", "--format", "{{json .Config.Labels}}", image], check=False)
    if not out.strip():
        return None
    return json.loads(out) or {}


def image_id(image: str) -> str:
    """The image's ID (its content digest), short: which exact image a report came from."""
    return short_id(docker(["image", "inspect", "--format", "{{.Id}}", image], check=False).strip())


def engine_info() -> dict:
    """`docker info` as JSON; {} where no engine answers."""
    return engine_answer(["info", "--format", "{{json .}}"], 30)


@dataclass(frozen=True)
class GpuAccess:
    """How this engine gives a container the host's NVIDIA GPUs, and the compose file that
    asks for them in that form."""

    how: str  # RUNTIME or CDI
    detail: str  # what doctor shows

    @property
    def compose_file(self) -> Path:
        return COMPOSE_GPU_FILE if self.how == RUNTIME else COMPOSE_CDI_FILE

    def __str__(self) -> str:
        return self.detail


RUNTIME, CDI = "runtime", "cdi"
# Where the CDI library looks when the engine does not say (its defaults).
CDI_DIRS = (Path("/etc/cdi"), Path("/var/run/cdi"))
CDI_KIND = re.compile(r"""^kind:\s*["']?([^"'\s#]+)""", re.M)  # a YAML spec's top level


def cdi_kind(text: str) -> str | None:
    """The `kind` a CDI spec (JSON or YAML) declares, or None."""
    try:
        spec = json.loads(text)
    except ValueError:
        found = CDI_KIND.search(text)
        return found.group(1) if found else None
    kind = spec.get("kind") if isinstance(spec, dict) else None
    return kind if isinstance(kind, str) else None


def cdi_gpu_specs(dirs: Sequence[Path] = CDI_DIRS) -> list[Path]:
    """The CDI spec files (YAML or JSON) in DIRS whose kind is nvidia.com/gpu."""
    found = []
    for folder in dirs:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if not name.endswith((".yaml", ".yml", ".json")):
                continue
            try:
                text = (folder / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if cdi_kind(text) == "nvidia.com/gpu":
                found.append(folder / name)
    return found


def gpu_access(
    info: dict, specs: Callable[[Sequence[Path]], list[Path]] = cdi_gpu_specs
) -> GpuAccess | None:
    """GpuAccess from `docker info` and the CDI specs on disk, or None.

    NVIDIA's runtime first: every engine since 20.10 takes its `driver: nvidia` request.
    CDI only where the engine says it reads specs (`CDISpecDirs`, Docker 27+, set when its
    CDI feature is on) and one of them names nvidia.com/gpu: an engine that does not read
    CDI refuses a `driver: cdi` request, and the run with it.
    """
    if "nvidia" in (info.get("Runtimes") or {}):
        return GpuAccess(RUNTIME, "nvidia runtime")
    dirs = [Path(d) for d in info.get("CDISpecDirs") or [] if isinstance(d, str)]
    found = specs(dirs) if dirs else []
    if found:
        return GpuAccess(CDI, f"CDI (nvidia.com/gpu in {found[0]})")
    return None


NVIDIA_SMI_QUERY = ["--query-gpu=name,driver_version", "--format=csv,noheader"]


def host_gpus(run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[str]:
    """The NVIDIA GPUs this machine's driver answers for (`nvidia-smi`), one line each
    (`NVIDIA H200, 580.159.04`); [] where there is none or it does not answer."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        done = run(
            ["nvidia-smi", *NVIDIA_SMI_QUERY],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def engine_gpu_form(info: dict) -> str:
    """For scripts/install-nvidia-toolkit.sh: RUNTIME, CDI, ROOTLESS, "desktop" or "none"
    (the engine gives no GPU, and NVIDIA's toolkit set up as root would change that)."""
    access = gpu_access(info)
    if access:
        return access.how
    ownership = file_ownership(info)
    return {ROOTLESS: ROOTLESS, MAPPED: "desktop"}.get(ownership, "none")


def gpu_runtime() -> GpuAccess | None:
    """How containers would see an NVIDIA GPU here (a runtime or CDI), or None."""
    return gpu_access(engine_info())


# Who owns what a container writes into a bind mount (decided from `docker info`):
HOST_IDS = "host ids"  # a rootful Linux engine: the container's uid, as on the host
ROOTLESS = "rootless"  # a user namespace: the container's root is the invoking user
MAPPED = "mapped"  # Docker Desktop's file sharing: every file is the user's


def file_ownership(info: dict) -> str:
    """HOST_IDS, ROOTLESS or MAPPED, from `docker info` (HOST_IDS where it says nothing).

    Rootless Docker and rootless Podman list `name=rootless` in SecurityOptions; Docker
    Desktop (macOS, Windows) names itself in OperatingSystem.
    """
    options = [o for o in info.get("SecurityOptions") or [] if isinstance(o, str)]
    if any("name=rootless" in option.split(",") for option in options):
        return ROOTLESS
    if "Docker Desktop" in str(info.get("OperatingSystem") or ""):
        return MAPPED
    return HOST_IDS


def invoker_ids() -> tuple[int, int] | None:
    """The invoking user's (uid, gid); None where the OS has none (Windows)."""
    if not hasattr(os, "getuid"):
        return None
    return os.getuid(), os.getgid()


@cache
def engine_ownership() -> str:
    """file_ownership() of this engine, asked once per run."""
    return file_ownership(engine_info())


def container_ids(ownership: str, invoker: tuple[int, int] | None) -> tuple[int, int]:
    """The ids containers run as, so that what they write is the invoker's.

    Rootless: 0, the container's root, which the user namespace maps to the invoking
    user (uid 1000 there would be one of the user's subordinate ids, which cannot write
    the user's folders); every capability is still dropped. Elsewhere the invoker's ids,
    but never root (uid 0 -> 1000), and 1000 where the OS has no uid (Windows).
    """
    if ownership == ROOTLESS:
        return 0, 0
    if invoker is None or invoker[0] == 0:
        return 1000, 1000
    return invoker


def host_ids() -> tuple[int, int]:
    """The ids containers run as on this machine and engine."""
    return container_ids(engine_ownership(), invoker_ids())


def hands_back() -> bool:
    """Whether the host must lend folders to the containers' user and chown what they
    wrote back: only where root invokes a rootful Linux engine. Elsewhere the files are
    the user's already (their own uid, a user namespace or Desktop's file sharing), and
    a chown would fail or be pointless."""
    invoker = invoker_ids()
    return invoker is not None and invoker[0] == 0 and engine_ownership() == HOST_IDS


def engine_path(path: Path) -> str:
    """PATH as the engine sees it, for a bind mount.

    In a dev container that talks to the host's engine (docker-outside-of-docker), the
    engine resolves mounts on the host, where the lab's folder is LAB_HOST_ROOT (set by
    .devcontainer/devcontainer.json), not ROOT: a path under ROOT is moved there.
    """
    host_root = os.environ.get("LAB_HOST_ROOT")
    if not host_root:
        return str(path)
    try:
        inside = Path(os.path.abspath(path)).relative_to(ROOT)
    except ValueError:
        return str(path)
    return str(Path(host_root) / inside)


def compose_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    uid, gid = host_ids()
    suffix = platform_suffix(image_platform())  # compose.yaml's names, as Variant.image's
    ids = {"LAB_UID": str(uid), "LAB_GID": str(gid), "LAB_TAG_SUFFIX": suffix}
    return {**os.environ, **ids, **(extra or {})}


def compose_command(args: Sequence[str], *, gpu: GpuAccess | None = None) -> list[str]:
    """`docker compose ARGS`; GPU adds its compose file (the GPU request) to compose.yaml."""
    files = ["-f", str(COMPOSE_FILE)] + (["-f", str(gpu.compose_file)] if gpu else [])
    return command(["compose", "--project-directory", str(ROOT), *files, *args])
