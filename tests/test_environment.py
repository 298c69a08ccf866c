"""The environment the code location loads with: a wrong value is one line naming the variable and
what it takes, raised as the location loads, before any run can start."""

import os
import subprocess
import sys

import pytest

from pipelines.environment import read_settings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PRICER_HUB", "s3", "PRICER_HUB='s3': use one of local, huggingface"),
        ("PRICER_TRACKER", "on", "PRICER_TRACKER='on': use one of offline, online, disabled"),
        ("PRICER_MAX_EPOCHS", "six", "PRICER_MAX_EPOCHS='six': use a whole number, 1 or more"),
        ("PRICER_MAX_EPOCHS", "0", "PRICER_MAX_EPOCHS='0': use a whole number, 1 or more"),
        ("PRICER_TRAINING_PROCESSES", "-2", "PRICER_TRAINING_PROCESSES='-2': use a whole number"),
        ("PRICER_PRECISION", "half", "PRICER_PRECISION='half': use one of auto, bf16, fp16, fp32"),
    ],
)
def test_a_wrong_setting_is_named_with_what_it_takes(name, value, message):
    with pytest.raises(ValueError) as raised:
        read_settings({name: value})
    assert str(raised.value).startswith(message)


def test_the_defaults_need_no_environment():
    settings = read_settings({})
    assert (settings.hub, settings.tracker, settings.max_epochs) == ("local", "offline", 6)
    assert (settings.training_processes, settings.base_model) == (1, "embedded")
    assert settings.precision == "auto"


def test_the_code_location_refuses_to_load_with_a_wrong_setting():
    env = {**os.environ, "PRICER_MAX_EPOCHS": "six"}
    done = subprocess.run(
        [sys.executable, "-c", "import pipelines.definitions"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line == (
        "pipelines.environment.SettingError: PRICER_MAX_EPOCHS='six': use a whole number, 1 or more"
    )
