"""Jobs layer: training, evaluation, inference and benchmarks as plain functions, plus the headless CLI."""
