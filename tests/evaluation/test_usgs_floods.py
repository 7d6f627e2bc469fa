"""USGS flood events and their ISD weather, cell by cell (whole folders: test_datasets.py)."""

from __future__ import annotations

import numpy as np

from evaluation.usgs_floods import isd_rain_mm


def test_isd_rain_cells():
    assert [isd_rain_mm(c) for c in ("3.3", "0.0", "-0.1")] == [3.3, 0.0, 0.0]
    assert all(np.isnan(isd_rain_mm(c)) for c in ("", "NA", "-9999", "-1.0"))
