#!/bin/bash
# The exact DITTO continuation with agent.imagine_state_grad=stop, on the shipped world model
# and on the overshooting one (overshoot_wm.sh)
c=docs/agents_s22/continue_shipped.sh
bash $c runs/s22/stop_wm5 runs/f5/features --set agent.imagine_state_grad=stop &
bash $c runs/s22/stop_os16 runs/s22/f_os16/features --set agent.imagine_state_grad=stop \
  --other-world-model &
wait
bash docs/agents_s22/evaluate_300.sh runs/s22/stop_wm5 runs/s22/stop_os16
