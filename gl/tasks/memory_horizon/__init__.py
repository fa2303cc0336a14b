"""Memory Horizon (section 5.1): the synthetic task the paper uses to show data-controlled forgetting.

* :mod:`~gl.tasks.memory_horizon.data`: the data set (Table 2);
* :mod:`~gl.tasks.memory_horizon.model`: the appendix-C language model (Figure 10);
* :mod:`~gl.tasks.memory_horizon.train`: its training (Table 3) on :mod:`gl.tasks.loop`;
* :mod:`~gl.tasks.memory_horizon.evaluate`: accuracy overall and by memory span (Figures 6-7);
* :mod:`~gl.tasks.memory_horizon.horizon`: the 50 % horizon with a bootstrap interval, the
  span-share bound, accuracy by span with seed bands;
* :mod:`~gl.tasks.memory_horizon.gates_analysis`: what the learned gates do at reset tokens.
"""
