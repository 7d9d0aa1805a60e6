# Self-test of the tier: a case that never ends is stopped by the per-case time-out and failed
# (exit 124), and the cases after it still run.
sleep 600
