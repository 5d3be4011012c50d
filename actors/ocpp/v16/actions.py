"""Which side may start which OCPP 1.6 action (core profiles plus the security extension).

The session engine uses this to refuse a CALL the peer has no business sending: an action that
is not OCPP 1.6 at all is NotImplemented ("not known by receiver"), a 1.6 action sent in the
wrong direction is NotSupported ("recognized but not supported"), as OCPP 1.6 section 4.2.3 defines
them. (The ``ocpp`` package's default descriptions for these two codes are swapped; the codes
here follow the specification.) DataTransfer goes both ways.
"""

from __future__ import annotations

from actors.ocpp.actions import ActionTable

STATION_INITIATED_16 = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
    }
)

CSMS_INITIATED_16 = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "InstallCertificate",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SignedUpdateFirmware",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)

ACTIONS_16 = STATION_INITIATED_16 | CSMS_INITIATED_16

TABLE = ActionTable(
    version="1.6",
    subprotocol="ocpp1.6",
    station_initiated=STATION_INITIATED_16,
    csms_initiated=CSMS_INITIATED_16,
)
