"""A faithful local Whereby Insights API for the demo, the tests and the benchmarks."""

from .faults import FaultConfig
from .organisation import Organisation, generate_organisation
from .server import SimulatorServer
from .spec import OrgSpec, default_now

__all__ = [
    "FaultConfig",
    "OrgSpec",
    "Organisation",
    "SimulatorServer",
    "default_now",
    "generate_organisation",
]
