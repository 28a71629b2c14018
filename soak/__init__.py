"""The simulated-clock soak test (`make soak`): the platform left to its schedules, with faults."""
