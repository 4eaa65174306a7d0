"""`mtqa train-eval`: the job above both stages: train (:mod:`mtqa.train`), then evaluate (:mod:`mtqa.evaluate`), then report."""
