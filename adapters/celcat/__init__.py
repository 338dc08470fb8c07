"""The CELCAT Timetabler Web API as a passerelle source (the plugin ``celcat``).

``client`` speaks HTTP, ``mapping`` is the only module that knows CELCAT's field names,
``source`` turns the timetable into canonical records, ``plugin`` registers it, and
``sandbox`` is a stateful fake of the API for tests and the demo.
"""
