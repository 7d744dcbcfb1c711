"""Demo data: realistic, invented people and places to try the service with.

It sits above the services (it seeds through them, like the CLI that runs it), so nothing in
``services/`` imports it.
"""
