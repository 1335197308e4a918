from lab.images import build_progress, builder


def test_inputs_digest_follows_every_file_and_the_switch(tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "requirements").mkdir()
    lock = tmp_path / "requirements" / "gil.txt"
    lock.write_text("numpy==1\n")
    first = builder.inputs_digest(False, tmp_path)
    assert builder.inputs_digest(False, tmp_path) == first
    assert builder.inputs_digest(True, tmp_path) != first
    lock.write_text("numpy==2\n")
    assert builder.inputs_digest(False, tmp_path) != first


def test_station_files_are_not_build_inputs() -> None:
    # Changing a station must rebuild no image: the build context is images/cpython alone.
    from lab.config import CPYTHON_DIR, STATIONS_DIR

    assert not STATIONS_DIR.is_relative_to(CPYTHON_DIR)


def test_extra_ca_comes_from_the_environment(tmp_path, monkeypatch) -> None:
    for name in builder.CA_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(builder, "SYSTEM_CA_BUNDLE", tmp_path / "no-system-bundle")
    assert builder.extra_ca() == "/dev/null"
    bundle = tmp_path / "ca.pem"
    bundle.write_text("---")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert builder.extra_ca() == str(bundle)
    monkeypatch.setenv("LAB_EXTRA_CA", str(tmp_path / "missing.pem"))
    assert builder.extra_ca() == str(bundle), "a named file that is not there is skipped"


def test_a_build_error_is_the_steps_own_line_not_the_echo_of_its_command() -> None:
    said = "#9 12.34 lab-build-error: torch is 2.5.1, not the pinned 2.6.0"
    echoed = (
        '#9 ERROR: executor failed running [... || { echo "lab-build-error: torch is'
        ' $installed, not the pinned 2.6.0" >&2; exit 1; }; }]'
    )
    assert build_progress.build_error(said) == "torch is 2.5.1, not the pinned 2.6.0"
    assert build_progress.build_error(echoed) is None
    assert build_progress.build_error("#9 12.34 Collecting torch") is None


def test_a_foreign_platform_cross_compiles_and_the_native_build_is_left_as_it_was(
    monkeypatch,
) -> None:
    # `invoke images --platform` compiles CPython on this machine (the Dockerfile's
    # CPYTHON_BUILD=cross); a native build gets neither that nor a platform from the shell.
    from lab.config import ALL_VARIANTS

    seen: list[dict[str, str]] = []
    monkeypatch.setattr(builder, "run_build", lambda command, env, image, digest: seen.append(env))
    monkeypatch.setattr(builder, "base_rootfs", lambda foreign="": "sha256:base")
    monkeypatch.setenv("LAB_CPYTHON_BUILD", "cross")
    monkeypatch.setenv("DOCKER_DEFAULT_PLATFORM", "linux/arm64")
    stock = ALL_VARIANTS["stock"]
    monkeypatch.setenv("LAB_BUILD_PYTHON_GIL", "lab-cpython:stock-linux-arm64")
    monkeypatch.setenv("LAB_IMAGE_PLATFORM", "linux/arm64")  # a station's; a build's never
    own = {"stock": "lab-cpython:stock-linux-amd64", "ft": "lab-cpython:ft-linux-amd64"}
    builder.compose_build([stock], "d1", False, "linux/arm64", "127.0.0.1:5000/base", own)
    builder.compose_build([stock], "d2", False)
    cross, native = seen
    assert cross["LAB_CPYTHON_BUILD"] == "cross"
    assert cross["DOCKER_DEFAULT_PLATFORM"] == "linux/arm64"
    assert cross[stock.from_arg] == "127.0.0.1:5000/base"
    assert cross["LAB_BUILD_PYTHON_GIL"] == "lab-cpython:stock-linux-amd64"
    assert cross["LAB_BUILD_PYTHON_FT"] == "lab-cpython:ft-linux-amd64"
    for name in ("LAB_CPYTHON_BUILD", "DOCKER_DEFAULT_PLATFORM", "LAB_BUILD_PYTHON_GIL"):
        assert name not in native
    assert cross["LAB_TAG_SUFFIX"] == native["LAB_TAG_SUFFIX"] == "", "compose.yaml's names"


class FakeImages:
    """An engine's image store for own_build_pythons: name -> (platform, inputs label)."""

    def __init__(self, monkeypatch, images: dict[str, tuple[str, str]]) -> None:
        from lab.images import identity

        self.images, self.built, self.tagged = dict(images), [], []
        monkeypatch.setattr(identity, "engine_platform", lambda: "linux/amd64")
        monkeypatch.setattr(identity, "inspect", self.inspect)
        monkeypatch.setattr(builder.docker, "image_labels", self.labels)
        monkeypatch.setattr(builder.docker, "docker", self.tag)
        monkeypatch.setattr(builder, "build", self.build)
        monkeypatch.setattr(builder, "variant_digest", lambda v, o, f="": f"{v.name}-{o}")

    def inspect(self, name: str):
        from types import SimpleNamespace

        found = self.images.get(name)
        return found and SimpleNamespace(platform=found[0], rootfs="sha256:r")

    def labels(self, name: str):
        found = self.images.get(name)
        return found and {"org.lab.inputs": found[1]}

    def tag(self, argv: list[str], **_) -> str:
        assert argv[:2] == ["tag", "--"]
        self.tagged.append(argv[3])
        self.images[argv[3]] = self.images[argv[2]]
        return ""

    def build(self, variants) -> None:
        for variant in variants:
            self.built.append(variant.name)
            self.images[variant.image] = ("linux/amd64", f"{variant.name}-False")


def test_a_cross_build_runs_this_machines_own_current_image_as_its_build_python(
    monkeypatch,
) -> None:
    # stock and debug take the machine's stock image, ft its ft image; by the platform's own
    # tag, which an arm64 build under compose.yaml's name does not take over.
    from lab.config import ALL_VARIANTS

    store = FakeImages(
        monkeypatch,
        {
            "lab-cpython:stock": ("linux/arm64", "stock-x"),  # an earlier arm64 build's
            "lab-cpython:stock-linux-amd64": ("linux/amd64", "stock-True"),  # own, PGO
            "lab-cpython:ft": ("linux/amd64", "ft-old"),  # own, of an older recipe
        },
    )
    variants = [ALL_VARIANTS[name] for name in ("stock", "debug", "ft")]
    chosen = builder.own_build_pythons(variants)
    assert chosen == {"stock": "lab-cpython:stock-linux-amd64", "ft": "lab-cpython:ft-linux-amd64"}
    assert store.built == ["ft"], "only the out-of-date one is built, natively"
    assert store.tagged == ["lab-cpython:ft-linux-amd64"]
    assert store.images["lab-cpython:ft-linux-amd64"] == ("linux/amd64", "ft-False")


def test_a_cross_build_of_an_image_built_on_stock_needs_no_build_python(monkeypatch) -> None:
    from lab.config import ALL_VARIANTS

    store = FakeImages(monkeypatch, {})
    assert builder.own_build_pythons([ALL_VARIANTS["cuda"]]) == {}
    assert store.built == []


def test_the_dockerfile_picks_its_stages_by_cpython_build() -> None:
    # One Dockerfile: the stage names its FROM lines choose from must all be there.
    import re

    from lab.config import CPYTHON_DIR

    text = (CPYTHON_DIR / "Dockerfile").read_text()
    stages = set(re.findall(r"^FROM .* AS (\S+)$", text, re.MULTILINE))
    assert re.search(r"^ARG CPYTHON_BUILD=native$", text, re.MULTILINE)
    for chosen in re.findall(r"^FROM (\S*\$\{CPYTHON_BUILD\}\S*)", text, re.MULTILINE):
        for value in ("native", "cross"):
            assert chosen.replace("${CPYTHON_BUILD}", value) in stages
    for variant, own in builder.BUILD_PYTHON.items():  # the Dockerfile chooses as invoke does
        arg = "BUILD_PYTHON_FT" if own == "ft" else "BUILD_PYTHON_GIL"
        wanted = rf"^FROM --platform=\$BUILDPLATFORM \$\{{{arg}\}} AS build-python-{variant}$"
        assert re.search(wanted, text, re.M), variant
    assert "FROM build-python-${VARIANT} AS build-python" in text


def test_a_foreign_platforms_cpython_images_are_one_build_and_the_cuda_image_its_own() -> None:
    # BuildKit runs one's emulated steps beside another's cross compile; the CUDA image
    # starts FROM stock, which must be built (and served) first.
    from lab.config import ALL_VARIANTS

    chosen = builder.with_bases([ALL_VARIANTS[n] for n in ("ft", "cuda", "debug")])
    names = [[v.name for v in batch] for batch in builder.batches(chosen, together=True)]
    assert names == [["ft", "stock", "debug"], ["cuda"]]
    assert builder.together_name([ALL_VARIANTS[n] for n in ("stock", "ft")]) == (
        "lab-cpython:stock+ft"
    )
    alone = [[v.name for v in batch] for batch in builder.batches(chosen, together=False)]
    assert alone == [["ft"], ["stock"], ["cuda"], ["debug"]], "natively: one at a time"
