"""Tasks a GateLoop model is trained on: each a subpackage, sharing :mod:`gl.tasks.loop`.

* :mod:`gl.tasks.loop`: optimizer, jitted epochs, evaluation schedule, checkpoints, resume;
* :mod:`gl.tasks.checkpoint`: checkpoints as ``.npz`` without pickle, and the shipped ones;
* :mod:`gl.tasks.memory_horizon`: the synthetic Memory Horizon task of section 5.1
  (data, model, training, evaluation, gate analysis);
* :mod:`gl.tasks.char_lm`: character-level tiny Shakespeare (GateLoop, its fixed-transition
  ablation and a transformer).

``python -m gl.train TASK ...`` runs the module named in :data:`TASKS`.
"""
from __future__ import annotations

#: ``python -m gl.train`` task name -> the module whose ``main(argv)`` trains it
TASKS = {"memory-horizon": "gl.tasks.memory_horizon.train", "char-lm": "gl.tasks.char_lm.train"}

__all__ = ["TASKS"]
