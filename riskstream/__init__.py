"""riskstream: real-time safety-health telemetry for recommendation impression streams."""
