"""The Edusign plugin (``edusign``): Edusign's external API v1 as an attendance system,
in both directions.

Its sink writes the sheets (``sink``, ``changes``: what to create, update and delete);
its ``attendance`` source reads the attendance taken on them back, for a pipeline that
returns it to the ERP. ``client`` speaks HTTP, ``mapping`` is the only module that knows
Edusign's field names, ``reasons`` holds the plugin's reason codes, ``plugin`` registers
it; ``demo`` and ``sandbox`` (a stateful fake of the API) are for tests and the demo only.
"""
