"""OCPP 2.0.1: its action table (:mod:`.actions`), its decisions (:mod:`.decisions`) and the
dialect that bundles them (:mod:`.dialect`). Importing the package loads nothing heavy, so the
session engine can take the action table without pulling in the station's decisions."""
