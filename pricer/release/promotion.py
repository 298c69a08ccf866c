"""The promotion rule: a checkpoint becomes champion only by beating the current champion and the
median constant, all three judged on the same validation split (the candidate run's). Then the
hub's `champion` tag follows the champion from repo to repo."""

from __future__ import annotations

from dataclasses import dataclass

from pricer.hub.base import CheckpointStore
from pricer.release.champion import CHAMPION_TAG, ChampionPointer


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
