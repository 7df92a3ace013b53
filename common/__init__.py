"""The leaf of the project: the error base class and the settings. Imports nothing of the project."""
