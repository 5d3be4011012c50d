"""The one error type of the OCPP layer and the CALLERROR codes it carries.

Everything that goes wrong with a frame or a payload (bad JSON, a wrong message type, a schema
violation, an unknown action) raises :class:`OcppError`. It carries exactly what is needed to
answer the peer: the CALLERROR code, a description a human can act on, optional details, and the
unique id of the offending CALL when it could be recovered (``None`` otherwise, in which case no
CALLERROR can be sent and the frame can only be logged).

The code names are the OCPP 1.6 ones, including the two spellings the 1.6 errata keeps
(``FormationViolation``, ``OccurenceConstraintViolation``). OCPP 2.0.1 renamed the first to
``FormatViolation``: a version's action table (:meth:`actors.ocpp.actions.ActionTable.spell`) gives
the wire spelling.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    """CALLERROR codes of OCPP 1.6 (section 4.2.3), spelled as on the wire."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"


class OcppError(Exception):
    """A frame or payload that cannot be accepted, with what is needed to answer it.

    ``unique_id`` is the id of the CALL to answer, or ``None`` when none could be recovered.
    ``message_type_id`` is the frame's message type (2, 3 or 4) when it was recognisable: only a bad
    CALL is answered with a CALLERROR; a bad CALLRESULT or CALLERROR fails our own call instead.
    ``path`` is the JSON path of the offending field for schema violations (``""`` otherwise).
    """

    def __init__(
        self,
        code: ErrorCode,
        description: str,
        *,
        unique_id: str | None = None,
        message_type_id: int | None = None,
        details: dict[str, Any] | None = None,
        path: str = "",
    ) -> None:
        super().__init__(f"{code.value}: {description}")
        self.code = code
        self.description = description
        self.unique_id = unique_id
        self.message_type_id = message_type_id
        self.details: dict[str, Any] = details if details is not None else {}
        self.path = path

    def with_unique_id(self, unique_id: str) -> OcppError:
        """The same error bound to the CALL ``unique_id`` (validation does not know the id)."""
        return OcppError(
            self.code,
            self.description,
            unique_id=unique_id,
            message_type_id=2,
            details=self.details,
            path=self.path,
        )
