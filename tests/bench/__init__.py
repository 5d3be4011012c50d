"""Tests of the load bench: its statistics, its coordinated-omission arithmetic, and small end-to-end runs."""
