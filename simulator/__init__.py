"""The simulated shop and its retention experiment, with known true effects; no core package imports it."""
