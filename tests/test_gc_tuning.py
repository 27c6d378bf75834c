"""The node's garbage-collector settings (consortium.node.gc_tuning)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from consortium.node.gc_tuning import ENV, GEN0_THRESHOLD, tune


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_node_settings_raise_the_young_threshold_and_freeze_start_up_objects(restore_gc: None) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    text = tune({})
    assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)
    assert gc.get_freeze_count() > 0
    assert str(GEN0_THRESHOLD) in text


def test_default_keeps_cpython_settings(restore_gc: None) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    tune({ENV: "default"})
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_unknown_setting_is_a_clear_error(restore_gc: None) -> None:
    with pytest.raises(ValueError, match="CONSORTIUM_GC='off'"):
        tune({ENV: "off"})
