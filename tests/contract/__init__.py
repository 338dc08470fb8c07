"""Conformance tests: each sandbox held to the contract of the API it fakes."""
