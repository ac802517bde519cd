"""Training: ``fit`` (the loop), ``jobs`` (a run in a background thread), ``slots`` (how many run at once,
server-wide), ``threads`` (the CPU-thread rule), ``progress`` (progress in plain words).
"""
