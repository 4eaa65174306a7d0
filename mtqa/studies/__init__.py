"""Studies: the report a recipe's ``study`` section asks for, generated from its run folders.

* :mod:`.report` tables a study's groups (runs ``NAME-sSEED``), its sweeps and its claims;
* :mod:`.claims` judges claims by paired differences over seeds and their t-intervals (the one
  interval function, :func:`.claims.t_interval`);
* :mod:`.choice` applies a dev-split choice rule fixed in the recipe;
* :mod:`.translate_train` reports the translate-train study (what MT data recovers of human data's gain).
"""
