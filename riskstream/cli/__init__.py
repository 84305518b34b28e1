"""The command line, the demo and the synthetic producer."""
