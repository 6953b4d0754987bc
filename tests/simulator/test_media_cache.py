"""The on-disk cache of encoded loops: shared by every simulator, keyed by what is drawn."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from simulator.media import Label, ProfileSpec, get_loop

SPEC = ProfileSpec("sub", 320, 180, 10)


def test_the_same_camera_on_another_address_reuses_its_loop(tmp_path):
    first = get_loop(Label("hq-001", "窓口", "hq", "127.0.31.1"), SPEC, tmp_path)
    again = get_loop(Label("hq-001", "窓口", "hq", "127.3.61.1"), SPEC, tmp_path)
    assert again.frames == first.frames
    assert len(list(tmp_path.glob("*.h264loop"))) == 1


def test_what_is_drawn_changes_the_loop(tmp_path):
    get_loop(Label("hq-001", "窓口", "hq", "127.0.31.1"), SPEC, tmp_path)
    get_loop(Label("hq-001", "会議室", "hq", "127.0.31.1"), SPEC, tmp_path)
    assert len(list(tmp_path.glob("*.h264loop"))) == 2


def test_simulators_starting_at_once_get_one_whole_loop(tmp_path):
    label = Label("hq-002", "窓口", "hq", "127.0.31.2")
    with ThreadPoolExecutor(4) as pool:
        loops = list(pool.map(lambda _: get_loop(label, SPEC, tmp_path), range(4)))
    assert all(loop.frames == loops[0].frames for loop in loops)
    assert len(list(tmp_path.glob("*.h264loop"))) == 1
    assert not list(tmp_path.glob("*.tmp"))
