"""The evaluation stage: pricing items with a checkpoint (greedy and probability-weighted), the
course's metrics, the baselines to beat, each epoch's typed record, choosing the best epoch and
marking where overfitting set in, and the tables and report a person reads."""
