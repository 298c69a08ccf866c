"""`pricer serve`'s hold on the champion: loaded once, loaded again when the pointer's bytes change,
and kept when a new champion fails to load."""

import pytest

from pricer.serving.server import ChampionHolder, LoadedChampion


def test_the_champion_is_loaded_once_then_again_only_when_the_pointer_changes(tmp_path):
    pointer = tmp_path / "champion.json"
    pointer.write_text('{"revision": "a"}')
    loads = []

    def load() -> LoadedChampion:
        loads.append(pointer.read_text())
        return LoadedChampion({"revision": pointer.read_text()}, lambda texts: [1.0] * len(texts))

    holder = ChampionHolder(pointer, load, warn=pytest.fail)
    assert holder.current() is holder.current()
    pointer.write_text('{"revision": "b"}')
    assert holder.current().about == {"revision": '{"revision": "b"}'}
    assert len(loads) == 2


def test_a_new_champion_that_fails_to_load_leaves_the_old_one_answering(tmp_path):
    pointer = tmp_path / "champion.json"
    pointer.write_text('{"revision": "a"}')
    warnings = []
    outcomes = iter([LoadedChampion({"revision": "a"}, len), OSError("the hub is unreachable")])

    def load() -> LoadedChampion:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    holder = ChampionHolder(pointer, load, warn=warnings.append)
    old = holder.current()
    pointer.write_text('{"revision": "b"}')
    assert holder.current() is old
    assert warnings == [
        "still serving {'revision': 'a'}: the new one failed (the hub is unreachable)"
    ]
    assert holder.current() is old  # tried once: not again at every request
    assert len(warnings) == 1


def test_with_nothing_loaded_the_failure_is_the_answer(tmp_path):
    def load() -> LoadedChampion:
        raise ValueError("there is no champion yet")

    holder = ChampionHolder(tmp_path / "champion.json", load, warn=pytest.fail)
    with pytest.raises(ValueError, match="no champion yet"):
        holder.current()
