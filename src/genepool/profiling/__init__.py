"""Know before you run: measured probes of a run's stages, projections, recommendations.

:func:`profile` runs a few generations at each of several population sizes, measuring every
stage of a generation (time, CPU, memory kept and peak), and projects the configured run from
them: peak memory, time per generation and for the run, disk, compile cost, each with its
uncertainty, and the settings it needs. :func:`plan` does the same with small sizes chosen
within a time budget (``genepool evolve --dry-run``). See ``docs/profile.md``.
"""

from __future__ import annotations

from .api import Estimate, Profile, Projection, Recommendation, parse_sizes, plan, profile

__all__ = ["Estimate", "Profile", "Projection", "Recommendation", "parse_sizes", "plan", "profile"]
