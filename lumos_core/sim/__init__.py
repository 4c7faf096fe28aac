"""The simulated Panda play table (PyBullet, modelled on CALVIN scene D)."""
