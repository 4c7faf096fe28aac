"""QoS profiles chosen on purpose for each kind of topic."""

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)

#: Latest-goal topics: a late subscriber receives the current goal.
LATCHED = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                     reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)

#: Camera images: best effort, keep the newest few.
SENSOR = qos_profile_sensor_data

#: Commands and states that must not be lost silently.
RELIABLE = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)

#: Service request queues that must answer a burst of callers (1000 concurrent requests).
SERVICE_QUEUE = QoSProfile(depth=2000, history=HistoryPolicy.KEEP_LAST,
                           reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.VOLATILE)
