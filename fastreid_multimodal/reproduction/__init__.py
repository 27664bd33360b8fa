"""Reproducing the papers' tables (tools/reproduce.py): the tables as published, the runs each one
needs, training them, and our numbers next to the paper's. It sits above ``engine`` (it reads
configs with engine's ``load_config``); nothing in the package below imports it."""
