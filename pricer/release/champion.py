"""The champion pointer: which checkpoint, of all training runs, prices best so far.

One small JSON file in the pricer home that a person, `pricer predict` and the next promotion
read. It is replaced in one step (a temporary file, then os.replace), so a reader sees the old
pointer or the new one, and a promotion that fails part-way leaves the old one as it was.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

POINTER_FILE = "champion.json"
# The hub tag on the champion's revision, in its run's repo.
CHAMPION_TAG = "champion"


@dataclass(frozen=True)
class ChampionPointer:
    repo_id: str
    revision: str
    run_key: str
    epoch: int
    hub: str  # the store that holds the repo: local or huggingface
    base_model: str  # the base the adapter was trained on, as the base model resource names it
    # Validation and test scores on the run's own splits, when it was judged.
    scores: dict[str, float] = field(default_factory=dict)

    def same_checkpoint(self, other: ChampionPointer) -> bool:
        return (self.hub, self.repo_id, self.revision) == (other.hub, other.repo_id, other.revision)


def pointer_path(home: Path) -> Path:
    return Path(home) / POINTER_FILE


def read_champion(home: Path) -> ChampionPointer | None:
    """The current champion, or None before the first promotion."""
    path = pointer_path(home)
    if not path.is_file():
        return None
    return ChampionPointer(**json.loads(path.read_text()))


def write_champion(home: Path, pointer: ChampionPointer) -> Path:
    """Make `pointer` the champion in one step; on any error the previous pointer stays."""
    path = pointer_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{POINTER_FILE}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            # Strict JSON: a NaN score fails here, before anything is replaced.
            json.dump(asdict(pointer), out, indent=2, allow_nan=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
