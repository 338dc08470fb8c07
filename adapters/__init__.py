"""ERP plugins: one folder per ERP (the school's timetabling system).

Each talks to its ERP in both directions: the timetable source (courses, people and
groups read for the sync) and, optionally, the sink that writes attendance back to it.
The attendance systems are in ``sinks/``.
"""
