"""Suite-wide test settings.

Hypothesis profiles: ``ci`` (what ``.ci/run`` selects) is derandomized, so a red CI run
replays identically on any machine (`CONSORTIUM_HYPOTHESIS=ci scripts/test.sh …`); ``dev``
(the default) explores new random examples on every run and keeps failures in
``.hypothesis/`` so they replay first next time.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("CONSORTIUM_HYPOTHESIS", "dev"))
