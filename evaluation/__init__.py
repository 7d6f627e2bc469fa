"""The evaluation harness: replay recorded data through the production detectors and score them.

``datasets`` loads recorded series, ``replay`` runs the registered detectors over them exactly as the
pipeline would, ``metrics``, ``fault_metrics`` and ``nab_score`` score the outcome, ``plots`` draws it,
and ``cli`` is ``riverwatch evaluate``.
"""
