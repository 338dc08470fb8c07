"""CELCAT as an ERP, in both directions: two plugins.

``celcat`` (``plugin``) is the timetable source, read from the Timetabler Web API;
``return-attendance`` (``return_attendance``), optional, writes the attendance taken in
the attendance system back to CELCAT through CAWS (CELCAT Attendance Web Services).

- ``plugin``: the source's options and registration (the source, the reason codes).
- ``client``: the Web API over HTTP (paging, the timetable header).
- ``mapping``: every Web API and CAWS path, header and field name, and their parsers.
- ``source``: the timetable as canonical records; ``names`` splits CELCAT's one name field.
- ``ids``: builds and parses every id the plugin gives what it reads.
- ``reasons``: the reason codes both plugins report.
- ``return_attendance``: the pipeline and its options; ``caws`` its sink (marks into
  registers), ``caws_client`` the CAWS HTTP client (the token, what answers mean).
- ``demo``, ``sandbox``, ``caws_sandbox``: the demo and stateful fakes of the two APIs,
  for tests and the demo only.
"""
