"""Where the project's shared fixtures are: ``shared/`` lies beside the repository (here and in CI)."""

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
CHARGEDOT_SESSION = SHARED / "fixtures" / "ocpp16_chargedot_session.jsonl"
