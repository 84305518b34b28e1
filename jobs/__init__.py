"""PyFlink jobs. Each reads as source -> transform -> sink: `build(...)` wires three named steps."""
