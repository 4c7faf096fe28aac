"""Benchmarks: one module per `lumos benchmark <name>`, each declaring its own options.

    sim          simulator control steps/s          (benchmarks/sim.py)
    expert       scripted expert success per task   (benchmarks/expert.py)
    data         dataset packing / window loading   (benchmarks/data.py)
    world-model  world-model size and speed         (benchmarks/world_model.py)
    policy       agent update and control latency   (benchmarks/policy.py)
    agents       Table I: LUMOS, ablations, GCBC    (benchmarks/agents.py)
    efficiency   success vs windows per task        (benchmarks/efficiency.py)
    latency      camera-to-command through ROS 2    (benchmarks/latency.py)
    faults       fault injection on the ROS 2 stack (benchmarks/faults.py)
    imagination  dry-run latency (H steps x S)       (benchmarks/imagination.py)

Benchmarks print figures; none is a timed test.
"""

#: `lumos benchmark <name>` -> module of lumos_core.benchmarks
BENCHMARKS = {"sim": "sim", "expert": "expert", "data": "data", "world-model": "world_model",
              "policy": "policy", "agents": "agents", "efficiency": "efficiency",
              "latency": "latency", "faults": "faults",
              "imagination": "imagination"}
