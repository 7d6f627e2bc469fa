"""NAB scoring on small hand-computed examples."""

import math

import numpy as np
import pytest

from evaluation.nab_score import (Profile, ScoredFile, corpus_score, default_profiles, normalise,
                                          optimise, probation_rows, row_weights, scaled_sigmoid, window_rows)

STD = Profile("standard", tp=1.0, fp=0.11, fn=1.0)


def sigma(y):
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def file_with(detections, windows, n=20, probation=0):
    scores = np.zeros(n)
    scores[list(detections)] = 1.0
    return ScoredFile("f", scores, tuple(windows), probation)


def test_scaled_sigmoid_matches_the_definition():
    for y in (-1.0, -0.5, -0.1, 0.0, 0.3, 1.0, 2.9):
        assert scaled_sigmoid(y) == pytest.approx(sigma(y))
    assert scaled_sigmoid(3.5) == -1.0


def test_first_detection_at_window_start_earns_full_tp_weight():
    r = corpus_score([file_with([5], [(5, 9)])], STD, 0.5)
    assert (r.tp, r.fp, r.fn) == (1, 0, 0)
    assert r.raw == pytest.approx(1.0)
    assert r.score == pytest.approx(100.0)


def test_only_first_detection_in_window_counts():
    # window rows 5..9 (width 5); first detection at row 7: y = -(9-7+1)/5 = -0.6
    r = corpus_score([file_with([7, 8, 9], [(5, 9)])], STD, 0.5)
    assert r.raw == pytest.approx(sigma(-0.6) / sigma(-1.0))
    assert (r.tp, r.fp) == (1, 0)


def test_false_positives_before_and_after_windows():
    # row 2 precedes every window: −A_FP; row 12 is 3 rows past the window end (width 5 → y = 3/4)
    r = corpus_score([file_with([2, 12], [(5, 9)])], STD, 0.5)
    expected = -0.11 + 0.11 * sigma(3 / 4) - 1.0
    assert r.raw == pytest.approx(expected)
    assert (r.tp, r.fp, r.fn) == (0, 2, 1)


def test_missed_window_costs_fn_weight_per_profile():
    f = file_with([], [(5, 9), (12, 15)])
    low_fn = default_profiles()["reward_low_FN_rate"]
    assert corpus_score([f], low_fn, 0.5).raw == pytest.approx(-4.0)
    assert corpus_score([f], low_fn, 0.5).score == pytest.approx(0.0)


def test_normalise_null_and_perfect():
    assert normalise(-3.0, 3, STD) == 0.0
    assert normalise(3.0, 3, STD) == 100.0
    assert normalise(0.0, 3, STD) == 50.0


def test_probation_rows_are_not_scored():
    r = corpus_score([file_with([1], [(5, 9)], probation=3)], STD, 0.5)
    assert r.fp == 0 and r.raw == pytest.approx(-1.0)
    assert probation_rows(1000) == 150 and probation_rows(100000) == 750


def test_window_rows_inclusive():
    t = np.arange(0.0, 100.0, 10.0)
    assert window_rows(t, [(15.0, 40.0), (200.0, 300.0)]) == ((2, 4),)


def test_row_weights_mark_windows_and_probation():
    w, v = row_weights(8, ((3, 4),), 1, STD)
    assert w.tolist() == [-2, -1, -1, 0, 0, -1, -1, -1]
    assert v[0] == 0.0 and v[1] == pytest.approx(-0.11)


def test_optimise_finds_the_best_threshold_exactly():
    # file 1: an early detection in its window at 0.6, noise at 0.4 outside;
    # file 2: its window only reached at 0.3 (late), and a false positive at 0.35.
    s1 = np.zeros(20); s1[5] = 0.6; s1[15] = 0.4
    s2 = np.zeros(20); s2[9] = 0.3; s2[2] = 0.35
    files = [ScoredFile("a", s1, ((5, 9),), 0), ScoredFile("b", s2, ((5, 9),), 0)]
    grid = [corpus_score(files, STD, th).raw for th in (0.6, 0.4, 0.35, 0.3, 0.0)]
    best = optimise(files, STD)
    assert best.raw == pytest.approx(max(grid))
    assert best.threshold in (0.6, 0.4, 0.35, 0.3, 0.0)
    # brute force over every candidate agrees for every profile
    for prof in default_profiles().values():
        brute = max(corpus_score(files, prof, th).raw for th in np.unique(np.r_[s1, s2]))
        assert optimise(files, prof).raw == pytest.approx(max(brute, -prof.fn * 2))


def test_optimise_random_corpus_matches_brute_force():
    rng = np.random.default_rng(7)
    files = [ScoredFile(f"f{k}", np.round(rng.random(60), 2), ((10, 19), (40, 47)), 5) for k in range(3)]
    for prof in default_profiles().values():
        brute = max(corpus_score(files, prof, th).raw
                    for th in np.r_[np.unique(np.concatenate([f.scores for f in files])), np.inf])
        assert optimise(files, prof).raw == pytest.approx(brute)
