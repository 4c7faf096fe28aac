"""lumos_core: LUMOS training library (world model, agent, simulator, evaluation). No ROS imports."""

__version__ = "0.1.0"
