"""The sandbox: real backend servers on loopback plus a simulated Nova release, with faults."""
