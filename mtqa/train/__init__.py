"""Stage `train`: a bi-encoder trained with InfoNCE on the stored batches, one batch per step."""
