"""The README's "set up and open the course" command really starts JupyterLab on the course."""

import json
import os
import re
import shlex
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_open_command_serves_the_course_in_jupyterlab():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"<!-- open-command -->\n```bash\n(.+)\n```", readme).group(1)
    assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && ")
    launch = shlex.split(command.split("&&")[-1])
    assert launch[:2] == [".venv/bin/jupyter", "lab"]
    if not (ROOT / launch[0]).exists():
        pytest.skip("no .venv in the checkout (the suite was not started by the README's command)")
    port, token = _free_port(), "course-test"
    extra = [f"--port={port}", f"--ServerApp.token={token}", "--no-browser", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:
        extra.append("--allow-root")
    server = subprocess.Popen([*launch, *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/api/contents/notebooks/00_welcome.ipynb?content=0&token={token}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    info = json.load(response)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(1)
        assert info["type"] == "notebook" and info["path"] == "notebooks/00_welcome.ipynb"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/solutions?token={token}") as r:
            assert json.load(r)["type"] == "directory", "the whole course (solutions too) must be browsable"
    finally:
        server.terminate()
        server.wait(timeout=30)
