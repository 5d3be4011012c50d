"""The names of the events chargeward writes, raw protocol events and domain events alike.

Raw events keep every frame exactly as it crossed the wire; domain events are what the actors
decided from them. Projections and replay match on these names, so they are constants here and
nowhere else.
"""

# Raw protocol events (stream station/<id>)
FRAME_RECEIVED = "FrameReceived"  # {conn, text, repairs?}
FRAME_SENT = "FrameSent"  # {conn, text}

# Connection lifecycle
STATION_CONNECTED = "StationConnected"  # {conn, subprotocol, remote}
STATION_DISCONNECTED = "StationDisconnected"  # {conn, reason}
# The station's supervision subtree gave up (actors.station_tree); refused until retry_after (s) passes
STATION_FAILED = "StationFailed"  # {reason, restarts, retry_after}

# Domain events decided from station-initiated messages
STATION_BOOTED = "StationBooted"  # {status, interval, vendor, model, serial, firmware, ...}
CONNECTOR_STATUS_CHANGED = "ConnectorStatusChanged"  # {connector, status, error_code, info, ...}
AUTHORIZED = "Authorized"  # {id_tag, status, expiry?, parent?}
TRANSACTION_STARTED = "TransactionStarted"  # {transaction_id, connector, id_tag, meter_start_wh, ...}
METER_SAMPLED = "MeterSampled"  # {connector, transaction_id, samples: [...], rejected: [...]}
# closed_by: "station" (its StopTransaction; absent in logs before it was added) or "csms"
# (reason "superseded": a newer StartTransaction on the same connector); known: false when the
# station stopped a transaction the CSMS never saw start (connector and energy_wh are then null).
# {transaction_id, connector, known, meter_stop_wh, energy_wh, reason, closed_by, ...}
TRANSACTION_STOPPED = "TransactionStopped"
# A StopTransaction for a transaction already stopped (a station repeating itself): changes nothing.
# {transaction_id, id_tag, meter_stop_wh, timestamp, reason}
TRANSACTION_STOP_REPEATED = "TransactionStopRepeated"
DATA_TRANSFERRED = "DataTransferred"  # {vendor_id, message_id, data, status}
DIAGNOSTICS_STATUS_CHANGED = "DiagnosticsStatusChanged"  # {status}
FIRMWARE_STATUS_CHANGED = "FirmwareStatusChanged"  # {status}

# Domain events decided from the replies to CSMS-initiated commands
COMMAND_COMPLETED = "CommandCompleted"  # {action, unique_id, request, outcome, response|code}
CONFIGURATION_REPORTED = "ConfigurationReported"  # {keys: [{key, value, readonly}], unknown: [...]}
CONFIGURATION_CHANGED = "ConfigurationChanged"  # {key, value, status}
RESERVATION_MADE = "ReservationMade"  # {connector, reservation_id, id_tag, expiry}
RESERVATION_CANCELLED = "ReservationCancelled"  # {reservation_id}
CHARGING_PROFILE_SET = "ChargingProfileSet"  # {connector, profile}
CHARGING_PROFILE_CLEARED = "ChargingProfileCleared"  # {criteria}

# Node-level bookkeeping (stream node/<name>)
TRANSACTION_IDS_RESERVED = "TransactionIdsReserved"  # {first, last}

# Modbus (streams meter/<device_id> and evse/<device_id>); every poll is exactly one of the first two
# Both carry latency_s and the binding (station?, connector?, site?); values are in unprefixed units;
# raw holds the registers of each read request: [{function, address, registers}].
MODBUS_READING = "ModbusReading"  # {samples: [{name, value, unit, measurand, phase}], raw: [...]}
MODBUS_POLL_FAILED = "ModbusPollFailed"  # {kind, detail, missed, exception_code?, function_code?}
MODBUS_DEVICE_STALE = "ModbusDeviceStale"  # {missed}: polls missed in a row (= stale_after)
MODBUS_DEVICE_RECOVERED = "ModbusDeviceRecovered"  # {missed}: polls missed before this answer
EVSE_CONTROL_REQUESTED = "EvseControlRequested"  # {what: current|enabled, value, address, words}
EVSE_CONTROL_WRITTEN = "EvseControlWritten"  # {what, value, address, words, latency_s}
EVSE_CONTROL_READ_BACK = "EvseControlReadBack"  # {what, address, words, value}
EVSE_CONTROL_VERIFIED = "EvseControlVerified"  # {what, value}
EVSE_CONTROL_MISMATCHED = "EvseControlMismatched"  # {what, requested, actual, written, read}
EVSE_CONTROL_FAILED = "EvseControlFailed"  # {what, value, stage: write|read_back, kind, detail}
