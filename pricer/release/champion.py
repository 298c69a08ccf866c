"""The champion: which checkpoint, of all training runs, prices best so far, and the rule by
which a challenger takes its place.

The pointer is one small JSON file in the pricer home that a person, `pricer predict` and the
next promotion read. It is replaced in one step (a temporary file, then os.replace), so a reader
sees the old pointer or the new one, and a promotion that fails part-way leaves the old one as it
was. A checkpoint becomes champion only by beating the current champion and the median constant,
all three judged on the same validation split (the candidate run's); then the hub's `champion`
tag follows the champion from repo to repo.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pricer.data.items import Item
from pricer.hub.base import CheckpointStore

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


class DamagedPointer(ValueError):
    """The champion pointer exists but cannot be read: nothing is promoted or priced over it."""


def read_champion(home: Path) -> ChampionPointer | None:
    """The current champion, or None before the first promotion."""
    path = pointer_path(home)
    if not path.is_file():
        return None
    try:
        return ChampionPointer(**json.loads(path.read_text()))
    except (ValueError, TypeError) as error:  # not JSON, not UTF-8, or not a pointer's fields
        raise DamagedPointer(
            f"{path} is damaged ({type(error).__name__}: {error}); it is left as it is. Restore "
            "it from a backup, or move it away and run promote_champion to choose a champion anew"
        ) from None


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


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str


@dataclass(frozen=True)
class Challenge:
    candidate: ChampionPointer
    candidate_error: float  # validation $ error on the candidate run's validation split
    median_error: float  # the training median, always guessed, on the same split
    champion: ChampionPointer | None  # None before the first promotion
    champion_error: float | None  # the current champion re-scored on the same split

    def verdict(self) -> Verdict:
        candidate, error = self.candidate, self.candidate_error
        name = f"{candidate.run_key} epoch {candidate.epoch} (${error:.2f})"
        champion = self.champion
        if champion is not None and candidate.same_checkpoint(champion):
            return Verdict(False, f"{name} is already the champion")
        if not error < self.median_error:
            return Verdict(
                False, f"{name} does not beat the median constant (${self.median_error:.2f})"
            )
        if champion is None:
            return Verdict(True, f"{name} beats the median constant; there is no champion yet")
        if self.champion_error is None:
            raise ValueError("the champion must be re-scored on the candidate's split to be judged")
        held = (
            f"the champion, {champion.run_key} epoch {champion.epoch} (${self.champion_error:.2f})"
        )
        if not error < self.champion_error:
            return Verdict(False, f"{name} does not beat {held}")
        return Verdict(True, f"{name} beats {held} and the median constant")


def untag_previous_champion(
    store: CheckpointStore, previous: ChampionPointer | None, winner: ChampionPointer
) -> str | None:
    """Take the champion tag off the previous champion's repo once the winner, in another repo,
    holds it: one repo in the hub claims the title. Within one repo the tag simply moved. Returns
    the repo untagged, if any."""
    if previous is None or previous.repo_id == winner.repo_id:
        return None
    store.untag(previous.repo_id, CHAMPION_TAG)
    return previous.repo_id


def rescore_champion(
    champion: ChampionPointer,
    candidate: ChampionPointer,
    store: CheckpointStore,
    base_model_path: str,
    validation: list[Item],
    download_dir: Path,
    device: str = "auto",
    batch_size: int = 32,
    progress: Callable[[str], None] | None = None,
    precision: str = "auto",
    home: Path | None = None,
) -> float:
    """The champion's validation $ error on the candidate's split, by the epochs' own scorer and
    the predictor that chooses: the probability-weighted price."""
    from pricer.evaluation.scoring import evaluate_model  # torch: only where it scores

    if (champion.hub, champion.base_model) != (candidate.hub, candidate.base_model):
        raise ValueError(
            f"the champion is on the {champion.hub} hub over base {champion.base_model}, the "
            f"candidate on the {candidate.hub} hub over {candidate.base_model}: not comparable"
        )
    local = store.download(champion.repo_id, champion.revision, download_dir)
    scored = evaluate_model(
        base_model_path,
        {"validation": validation},
        adapter_dir=str(local),
        device=device,
        batch_size=batch_size,
        progress=progress,
        weighted=True,
        precision=precision,
        home=home,
    )
    weighted = scored["validation"].weighted
    assert weighted is not None  # asked for above
    return weighted.scores.mean_abs_error


@dataclass(frozen=True)
class Promotion:
    pointer: Path
    untagged: str | None  # the previous champion's repo, once its tag is off


def promote(
    store: CheckpointStore, home: Path, challenge: Challenge, warn: Callable[[str], None]
) -> Promotion:
    """Make the challenger champion: its hub tag, then the pointer, then the old tag off."""
    verdict = challenge.verdict()
    if not verdict.promote:
        raise ValueError(f"not promoted: {verdict.reason}")
    winner = challenge.candidate
    # Tag first: if tagging fails, the pointer still names the old champion.
    store.tag(winner.repo_id, winner.revision, CHAMPION_TAG)
    pointer = write_champion(home, winner)
    # Last, once the pointer has moved: a failure here must not fail a promotion that happened.
    try:
        untagged = untag_previous_champion(store, challenge.champion, winner)
    except Exception as error:  # any store's error: the pointer, already moved, is the truth
        untagged = None
        previous = challenge.champion.repo_id if challenge.champion else "?"
        warn(
            f"the previous champion's repo {previous} keeps its {CHAMPION_TAG!r} tag ({error}): "
            "remove it by hand"
        )
    return Promotion(pointer, untagged)
