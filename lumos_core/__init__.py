"""lumos_core: the LUMOS training library (world model, agent, simulator, evaluation); no ROS."""

__version__ = "0.1.0"
