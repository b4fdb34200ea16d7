"""The embedded simulated microservice cluster (any topology; Online Boutique by default). Pure code, no I/O."""

from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import FAULT_TYPES, Fault
from tools.backends.sim.load import LoadCurve

__all__ = ["Simulator", "Fault", "FAULT_TYPES", "LoadCurve"]
