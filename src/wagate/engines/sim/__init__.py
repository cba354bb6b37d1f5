"""The simulated WhatsApp network: a supported engine for demos and tests, and the reference
for the engine Protocol's semantics."""

from wagate.engines.sim.engine import SimEngine, SimSession
from wagate.engines.sim.network import Faults, SimNetwork, SimStats

__all__ = ["Faults", "SimEngine", "SimNetwork", "SimSession", "SimStats"]
