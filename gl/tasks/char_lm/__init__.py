"""Character-level language modelling on tiny Shakespeare (nanoGPT's small benchmark).

:mod:`~gl.tasks.char_lm.data` (text, split, vocabulary), :mod:`~gl.tasks.char_lm.model`
(GateLoop, its fixed-transition ablation and a transformer in one code base),
:mod:`~gl.tasks.char_lm.train` (``python -m gl.train char-lm``),
:mod:`~gl.tasks.char_lm.evaluate` (validation loss), :mod:`~gl.tasks.char_lm.generate`
(sampling in the recurrent mode), :mod:`~gl.tasks.char_lm.cost` (time and memory per
generated character: GateLoop's step against a transformer's key-value cache),
:mod:`~gl.tasks.char_lm.gates_text` (the learned gates by character class, permutation tests).
"""
