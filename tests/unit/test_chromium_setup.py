"""scripts/ensure_chromium.sh, which `make test` runs: it is run here with a fake PATH (fake
`id`, `apt-get`, `apt-cache`), so nothing is installed and the real machine's chromium is hidden."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ensure_chromium.sh"


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def run(
    tmp_path: Path,
    *,
    uid: int = 0,
    apt: bool = True,
    candidate: bool = True,
    installs: bool = True,
    chromium: bool = False,
    ci: bool = False,
) -> tuple[int, str, list[str]]:
    """(exit status, output, apt-get calls) of the script on a machine faked as asked."""
    bin_dir, log = tmp_path / "bin", tmp_path / "apt.log"
    bin_dir.mkdir(parents=True)
    log.touch()
    os.symlink(shutil.which("grep"), bin_dir / "grep")  # type: ignore[arg-type]
    _tool(bin_dir, "id", f"echo {uid}")
    fake_chromium = f"printf '#!/bin/sh\\n' > {bin_dir}/chromium; /bin/chmod 755 {bin_dir}/chromium"
    if chromium:
        _tool(bin_dir, "chromium", "exit 0")
    if apt:
        version = "120.0.6099.224-1~deb12u1" if candidate else "(none)"
        _tool(bin_dir, "apt-cache", f'echo "chromium:"; echo "  Candidate: {version}"')
        install = fake_chromium if installs else "exit 100"
        _tool(
            bin_dir,
            "apt-get",
            f'echo "$*" >> {log}\ncase "$1" in install) {install};; esac',
        )
    env = {"PATH": str(bin_dir), **({"CI": "true"} if ci else {})}
    done = subprocess.run(
        ["/bin/sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )
    return done.returncode, done.stdout + done.stderr, log.read_text().splitlines()


def test_chromium_already_there_is_left_alone(tmp_path: Path) -> None:
    assert run(tmp_path, chromium=True) == (0, "", [])


@pytest.mark.parametrize(("uid", "apt"), [(1000, True), (0, False)])
def test_without_root_or_apt_one_line_says_the_test_will_skip(
    tmp_path: Path, uid: int, apt: bool
) -> None:
    status, output, calls = run(tmp_path, uid=uid, apt=apt)
    assert status == 2 and calls == []
    assert output.splitlines() == [
        "chromium not installed (needs root and apt-get): the headless report test will skip"
    ]


def test_root_installs_without_recommends_and_reads_the_lists_only_when_needed(
    tmp_path: Path,
) -> None:
    status, _, calls = run(tmp_path / "offered")
    assert status == 0
    assert calls == ["install -y -qq --no-install-recommends chromium"]
    status, _, calls = run(tmp_path / "not-offered", candidate=False)
    assert status == 0
    assert calls == ["update -qq", "install -y -qq --no-install-recommends chromium"]


@pytest.mark.parametrize(("ci", "expected"), [(True, 1), (False, 2)])
def test_a_failed_install_fails_only_on_ci(tmp_path: Path, ci: bool, expected: int) -> None:
    status, output, calls = run(tmp_path, installs=False, ci=ci)
    assert status == expected
    assert calls[-1] == "install -y -qq --no-install-recommends chromium"
    assert ("CI must run" in output) is ci


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_runs_the_chromium_step_before_the_suite() -> None:
    planned = subprocess.run(
        ["make", "-n", "-B", "test"], cwd=REPO, capture_output=True, text=True, timeout=60
    ).stdout
    step = planned.find("sh scripts/ensure_chromium.sh")
    assert 0 <= step < planned.find("-m pytest")
