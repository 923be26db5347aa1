# tests/: shared test scripts and fixtures.
