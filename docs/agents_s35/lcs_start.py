"""Session 35: the language server's start-up work (encoder, training instructions, the
grounding classifier of InstructionGate) timed with torch's default threads or N:
    python docs/agents_s35/lcs_start.py [N]
On the loaded 2-core machine: 140.2 s with 2 threads, 17.6 s with 1."""
import sys
import time

import torch

t0 = time.time()
if len(sys.argv) > 1:
    torch.set_num_threads(int(sys.argv[1]))
from lumos_core.instructions import InstructionGate  # noqa: E402
from lumos_core.language import LanguageEncoder  # noqa: E402
from lumos_ros.language_command_server import known_instructions  # noqa: E402

t1 = time.time()
encoder = LanguageEncoder()
known = known_instructions("checkpoints/policy_state_demo", "")
t2 = time.time()
InstructionGate(encoder, known, grounding="task")
t3 = time.time()
print(f"threads {torch.get_num_threads()}: import {t1 - t0:.1f} s, encoder {t2 - t1:.1f} s, "
      f"gate {t3 - t2:.1f} s")
