"""The package version, in a module of its own so that anything (run.json's versions) can read it without
importing the package's front door (tsearch/__init__ imports the API, which imports the engine and the runs).
"""

__version__ = "0.1.0"
