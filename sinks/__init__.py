"""Attendance-system plugins: one folder per attendance system.

Each talks to its system in both directions: the sink that writes the attendance sheets
(courses, students, instructors, groups) and, optionally, the source that reads the
attendance taken on them back. The ERPs are in ``adapters/``.
"""
