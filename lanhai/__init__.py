"""Lanhai: the lakehouse of the blue-ocean operating plan."""
