"""A faithful local Whereby Insights API for the demo, the tests and the benchmarks."""

from .faults import FaultConfig
from .organisation import Organisation, generate_organisation
from .server import SimulatorServer
from .spec import DEFAULT_NOW, OrgSpec

__all__ = [
    "DEFAULT_NOW",
    "FaultConfig",
    "OrgSpec",
    "Organisation",
    "SimulatorServer",
    "generate_organisation",
]
