"""The end-to-end incident eval: scenarios, SLO, responders, harness, scoring and report."""
