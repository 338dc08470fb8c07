"""Edusign's external API v1 as a passerelle sink (the plugin ``edusign``).

``client`` speaks HTTP (envelope, pacing, retries), ``mapping`` is the only module that
knows Edusign's field names, ``sink`` decides what to create, update and delete,
``plugin`` registers it, and ``sandbox`` is a stateful fake of the API.
"""
