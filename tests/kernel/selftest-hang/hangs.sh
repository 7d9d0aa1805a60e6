# Self-test of the tier: with the per-case limit above the VM's, a hanging case runs the whole VM
# into its time-out, which must fail the tier.
sleep 600
