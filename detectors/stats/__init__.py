"""Shared statistics of the detectors, one idea per module, each state a few plain floats.

``cleaning``
    Finite values out of a reading set, score clamping.
``levels``
    The hazard of a quantity, its catalog levels, the int → :class:`~riverwatch.model.Level` table.
``gates``
    Persistence of levels (:class:`~detectors.stats.gates.LevelGate`) and the ``Gated`` detector base.
``baselines``
    What is normal, learnt online: robust location and scale, a forgetting range, a score quantile.
``trend``
    Robust trends: Theil–Sen slopes and their agreement, medians.
``windows``
    The last points of a stream, and the usual interval between its readings.
``regression``
    A slow least-squares fit of responses on two regressors.
``residual_track``
    One water-quality quantity's residual: baseline, scale, tail factor, its own blip rate.
``early_signs``
    A building departure: robust, steady residual trends; a level gate corroborated evidence passes at once.
``seasonal``
    The usual offset of a series by hour of day and day of week.
``dry_probe``
    The signature of a probe in air or fouled (conductivity and turbidity collapsing together).
``fault_scores``
    The sensor-fault vocabulary (faults, severities, resolutions) and the fault score mapping.

State objects pickle through :class:`riverwatch.state.Slotted` (versioned checkpoints).
"""
