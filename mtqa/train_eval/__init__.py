"""`mtqa train-eval`: the job above both stages: train (:mod:`mtqa.train`), then evaluate (:mod:`mtqa.evaluate`), then report."""

from ..callable_stage import make_callable

make_callable(__name__, "train_eval")  # mtqa.train_eval(config) is the API's function (mtqa/api.py)
