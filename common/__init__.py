"""The base layer: what every app shares. It imports no app of the project."""
