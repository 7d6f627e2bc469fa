"""Cross-validation folds per format."""

import numpy as np
import pytest

from evaluation.datasets import Series, synthetic_station
from evaluation.folds import Piece, event_item, make_folds, training


def series(name, category, days=10.0, start=0.0):
    t = start + np.arange(0, days * 86400.0, 3600.0)
    return Series(name, category, synthetic_station(name, ["water_level"]), t, {"water_level": np.zeros(len(t))})


def test_nab_and_usgs_leave_one_category_out():
    corpus = [series("a.csv", "x"), series("b.csv", "x"), series("c.csv", "y")]
    for fmt in ("nab", "usgs"):
        folds = make_folds(fmt, corpus)
        assert [(f.name, [p.index for p in f.pieces]) for f in folds] == [("x", [0, 1]), ("y", [2])]
        assert [p.index for p in training(folds, 1)] == [0, 1]


def test_gecco_and_qld_by_file_when_there_are_several():
    corpus = [series("gecco2017_train.csv", "gecco"), series("gecco2018_train.csv", "gecco")]
    assert [f.name for f in make_folds("gecco", corpus)] == ["gecco2017_train", "gecco2018_train"]
    sites = [series(f"herbert_site{k}.csv", "qld") for k in range(1, 4)]
    assert [f.name for f in make_folds("qld", sites)] == ["herbert_site1", "herbert_site2", "herbert_site3"]


def test_one_file_splits_by_month_or_season_and_pieces_cover_it():
    one = series("s.csv", "qld", days=400.0, start=1_488_326_400.0)      # 2017-03-01, 400 days
    seasons = make_folds("qld", [one])
    assert [f.name for f in seasons] == ["2017-MAM", "2017-JJA", "2017-SON", "2018-DJF", "2018-MAM"]
    rows = [f.pieces[0].rows(one.t) for f in seasons]
    assert rows[0][0] == 0 and rows[-1][1] == len(one) and all(a[1] == b[0] for a, b in zip(rows, rows[1:]))
    assert len(make_folds("gecco", [one])) == 14


def test_one_block_is_not_enough():
    with pytest.raises(ValueError, match="two folds"):
        make_folds("gecco", [series("s.csv", "g", days=3.0, start=1_488_326_400.0)])


def test_event_item_keeps_the_window_and_the_flood_ends():
    from evaluation.datasets import Event
    from evaluation.replay import RaisedWarning, ReplayResult

    s = series("s.csv", "ev", days=4.0)
    s = Series(s.name, s.category, s.station, s.t, s.columns, (Event(3600.0, 7200.0, 3600.0),
                                                              Event(3 * 86400.0, 3 * 86400.0 + 3600, 3 * 86400.0)))
    w = RaisedWarning(1, 3600.0, "flood", "rate_of_rise", "water_level", 1, 0.9, 1.0, 2, 7200.0)
    r = ReplayResult(s, np.zeros(len(s)), np.zeros(len(s), dtype=np.int8), {}, (w,), 0.0)
    events, times, days, quiet, ends = event_item(r, "usgs", Piece(0, 0.0, 86400.0))
    assert (len(events), times, ends, round(days, 3)) == (1, [3600.0], [7200.0], round(23 / 24, 3))
    assert len(event_item(r, "gecco")) == 4
