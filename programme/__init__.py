"""The programme: weekly cycles of warning → intervention → consolidation, judged against a holdout kept out of
everything (settings and holdout in `experiments.programmes`, the cycle in `programme.cycles`)."""
