"""Statistics and figures from result Datasets; nothing here runs a simulation.

Modules: :mod:`.correlations` (rate and spike-count correlations via
Neo/Elephant), :mod:`.reference` (published measurements), :mod:`.learning`
(learning curves over seeds), :mod:`.features` (receptive fields, ZCA,
compression).
"""
