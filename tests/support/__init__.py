"""Helpers every folder of tests may use: waiting for something to happen, a free port, a sandbox Slack
with people in it, and a `researchbot bot` process. Fixtures live in each folder's conftest.py."""
