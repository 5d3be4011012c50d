"""Smart charging maths, sans I/O: OCPP 1.6 charging profiles, composite schedules and trimming.

``model`` parses and checks profiles as a station receives them; ``composite`` computes the limit a
connector is under at each instant of a window; ``trim`` fits a schedule to what a station accepts
without raising any limit. Nothing here does I/O or knows the store, so the server, the CLI
(``chargeward schedule``) and the bench run the same code.
"""

from actors.charging.composite import (
    CompositePeriod,
    CompositeSchedule,
    Electrical,
    Transaction,
    composite_schedule,
    convert,
)
from actors.charging.conf import composite_conf, wire_time
from actors.charging.model import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfile,
    Kind,
    ProfileError,
    Purpose,
    Recurrency,
    SchedulePeriod,
    Unit,
    install,
    parse_profile,
    parse_profiles,
    parse_set_charging_profile,
    parse_time,
)
from actors.charging.trim import trim

__all__ = [
    "ChargingProfile",
    "ChargingSchedule",
    "CompositePeriod",
    "CompositeSchedule",
    "Electrical",
    "InstalledProfile",
    "Kind",
    "ProfileError",
    "Purpose",
    "Recurrency",
    "SchedulePeriod",
    "Transaction",
    "Unit",
    "composite_conf",
    "composite_schedule",
    "convert",
    "install",
    "parse_profile",
    "parse_profiles",
    "parse_set_charging_profile",
    "parse_time",
    "trim",
    "wire_time",
]
