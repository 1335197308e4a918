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
