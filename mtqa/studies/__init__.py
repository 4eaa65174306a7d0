"""Studies: the report a recipe's ``study`` section asks for, generated from its run folders.

* :mod:`.report` tables a study's groups (runs ``NAME-sSEED``), its sweeps and its claims;
* :mod:`.claims` judges claims by paired differences over seeds: their t-interval (the one interval
  function over seeds, :func:`.claims.t_interval`) and a bootstrap over test articles;
* :mod:`.choice` applies a dev-split choice rule fixed in the recipe;
* :mod:`.translate_train` reports the translate-train study (what MT data recovers of human data's gain).
"""
