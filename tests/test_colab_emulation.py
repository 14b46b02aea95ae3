"""The setup cell works where the repository is not checked out (Colab, a lone download).

One notebook is copied alone into an empty folder and executed in a fresh
virtual environment where ``speechlm`` is not installed. The environment sees
the other dependencies (as Colab ships torch, numpy and friends), but not the
course package, so the setup cell must install it, from
``SPEECHLM_INSTALL_SOURCE`` pointed at this checkout.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_welcome.ipynb"


def _fresh_env_with_dependencies_but_not_speechlm(tmp_path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    child_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A view of this environment's packages without the course package.
    deps = tmp_path / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "speechlm" in entry.name.lower() or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    (Path(child_site) / "zz_course_deps.pth").write_text(f"{deps}\n")
    return python


@pytest.mark.slow
def test_setup_cell_installs_the_package_in_an_empty_folder(tmp_path):
    python = _fresh_env_with_dependencies_but_not_speechlm(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env["SPEECHLM_INSTALL_SOURCE"] = str(ROOT)
    env["SPEECHLM_CACHE"] = os.environ.get("SPEECHLM_CACHE", str(tmp_path / "cache"))
    probe = subprocess.run([python, "-c", "import speechlm"], env=env, capture_output=True, cwd=tmp_path)
    assert probe.returncode != 0, "speechlm must not be importable before the setup cell runs"

    work = tmp_path / "colab"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    runner = textwrap.dedent(
        f"""
        import nbformat
        from nbclient import NotebookClient
        nb = nbformat.read({NOTEBOOK.name!r}, as_version=4)
        NotebookClient(nb, timeout=900, kernel_name="python3").execute()
        print(nb.cells[1].outputs[-1].get("text", ""))
        """
    )
    run = subprocess.run(
        [python, "-c", runner], cwd=work, env=env, capture_output=True, text=True, timeout=1500
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "speechlm 0" in run.stdout and "device cpu" in run.stdout
    installed = subprocess.run(
        [python, "-c", "import speechlm; print(speechlm.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert str(tmp_path / "venv") in installed.stdout, (
        "the package must have been installed into the fresh env"
    )
    assert os.listdir(work) == [NOTEBOOK.name], "executing the notebook must not write next to it"
