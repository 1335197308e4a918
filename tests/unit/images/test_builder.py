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
    builder.compose_build(stock, "d1", False, "linux/arm64", "127.0.0.1:5000/base")
    builder.compose_build(stock, "d2", False)
    cross, native = seen
    assert cross["LAB_CPYTHON_BUILD"] == "cross"
    assert cross["DOCKER_DEFAULT_PLATFORM"] == "linux/arm64"
    assert cross[stock.from_arg] == "127.0.0.1:5000/base"
    assert "LAB_CPYTHON_BUILD" not in native and "DOCKER_DEFAULT_PLATFORM" not in native


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
    for variant in ("stock", "debug", "ft"):
        assert f"build-python-{variant}" in stages
