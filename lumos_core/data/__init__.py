"""Datasets in the CALVIN format: writing (simulator, ROS recorder) and fast reading."""
