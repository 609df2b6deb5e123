"""Seeing training: per-step gradient flow through recurrent layers and its plot.

``gradient_flow(model, x, y)`` measures ``||dLoss/dh_t||`` for every time step of every recurrent layer
(see ``diagnostics.flow``); ``plot_gradient_flow(flow, path)`` draws it on a log scale (needs matplotlib,
the ``plot`` extra). ``rnnkit diagnose MODEL --dataset NAME`` does both for a saved model.

>>> import numpy as np
>>> from rnnkit.diagnostics import gradient_flow
>>> from rnnkit.layers import Dense, LSTM
>>> from rnnkit.models import Sequential
>>> model = Sequential([LSTM(4), Dense(1)])
>>> model.compile(optimizer="adam", loss="mse")
>>> flow = gradient_flow(model, np.ones((2, 6, 3)), np.zeros((2, 1)))
>>> sorted(flow.layers[0].states), flow.layers[0].h.shape
(['c', 'h'], (6,))
"""
from rnnkit.diagnostics.flow import GradientFlow, LayerFlow, gradient_flow, step_gradient_source
from rnnkit.diagnostics.fused import FusedSource
from rnnkit.diagnostics.plot import plot_gradient_flow
from rnnkit.diagnostics.replay import Probe, ReplaySource, StepGradientSource, recurrent_layers

__all__ = ["gradient_flow", "GradientFlow", "LayerFlow", "plot_gradient_flow", "ReplaySource", "FusedSource",
           "StepGradientSource", "step_gradient_source", "Probe", "recurrent_layers"]
