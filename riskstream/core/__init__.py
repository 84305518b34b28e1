"""The ground: typed config, errors, paths. Imports nothing of ours."""
