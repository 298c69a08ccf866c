"""Every step process imports the code location before its step starts: importing it must not
pull in the ML stack (about 13 s of imports on the 2-core CPU), which only the steps that train
or score need, and import themselves."""

import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "trl", "bitsandbytes")


def test_loading_the_code_location_leaves_the_ml_stack_unimported():
    script = (
        "import sys, pipelines.definitions\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "", f"importing pipelines.definitions imported {found}"
