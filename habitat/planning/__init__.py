"""Planning computations: scenarios, restoration priorities and translocation plans (issue 17)."""
