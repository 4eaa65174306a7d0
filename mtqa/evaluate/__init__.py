"""Stage `evaluate` and the `mtqa train-eval` job: LAReQA mAP, rank distance, BEIR nDCG, reports."""
