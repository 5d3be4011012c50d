"""Peer baselines the bench runs under the same load as chargeward: the floor and the ocpp-package CSMS."""
