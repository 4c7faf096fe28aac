"""lumos_ros: rclpy nodes around lumos_core, plus the generated lumos_ros.msg / lumos_ros.srv.

The interfaces may be installed in a different site directory than these Python sources
(`make setup` builds them into the venv with CMake while the nodes are an editable pip install),
so the package path is extended over every ``lumos_ros`` directory on ``sys.path``.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
