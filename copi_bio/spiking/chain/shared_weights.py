"""Parallel copies of a spike-driven chain that share one weight table.

``protocol.trials = K`` simulates ``K`` copies of the network side by side,
each shown its own stream of stimuli (the rate backend's minibatch). Neuron
``c * n + i`` of a Brian2 group is neuron ``i`` of copy ``c``. Every
plastic connection keeps its weights once, in a *table*: a
:class:`brian2.NeuronGroup` with one element per synapse of one copy
(presynaptic-major: element ``j * n_post + i`` holds the weight from ``j`` to
``i``). Three kinds of synapses use it:

* **transmission** synapses connect each copy's cells to the same copy's
  cells; their weight is a linked variable that reads the table
  (``w : 1 (linked)`` through the integer index ``widx``), so every copy
  passes its spikes through the same weights;
* **summation** synapses with the same connectivity compute the
  connection's summed currents (balance current, top-down currents), every
  ``spiking.summation_dt``;
* **learning** synapses connect each copy's presynaptic cells to the table
  elements they own and apply the local rule there at the copy's spikes,
  reading the postsynaptic cell of the same copy through linked variables
  (index ``qidx``). The change is divided by ``K``: the table follows the
  mean of the copies' updates, as the rate backend's batch mean;
* **centring** synapses (``spiking.forward_centring = "mean_rate"``, same
  pairs as the learning synapses) sum every copy's continuous centring term
  into the table every ``spiking.summation_dt``; the table subtracts
  ``1 / K`` of the sum.

With ``K = 1`` this is the single network: the rule runs at the same spikes
on the same variables, and the learning pathway is scheduled after the
transmission pathway, so a spike is transmitted through the weight from
before its own update, as with one synapse that does both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import brian2 as b2
import numpy as np

from .. import synapses
from ..plasticity import TableRule


class _OrderNotice(logging.Filter):
    """Drops Brian2's notice that a learning synapse's statement depends on the order in which
    synapses run: several copies' spikes may update one table element in the same step, and the
    order only changes the rounding (and, for a clipped ``M >= 0``, where a sum of same-step
    updates is clipped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        ours = "_learning_" in message or any(f"{v}_post" in message for v in ("w", "M", "V"))
        return not ("abstract code block" in message and ours)


logging.getLogger("brian2.codegen.generators.base").addFilter(_OrderNotice())


@dataclass
class SharedTable:
    """The weight table of one plastic connection and the synapses that use it.

    Attributes
    ----------
    table : brian2.NeuronGroup
        One element per synapse of one copy.
    n_pre, n_post : int
        Population sizes of one copy.
    objects : list
        The table and the synapses that use it (all go into the network).
    """

    table: b2.NeuronGroup
    n_pre: int
    n_post: int
    objects: list

    def matrix(self, values: np.ndarray) -> np.ndarray:
        """Dense ``(n_post, n_pre)`` matrix from table values (presynaptic-major)."""
        return np.asarray(values, dtype=float).reshape(self.n_pre, self.n_post).T.copy()


def copy_pairs(copies: int, n_pre: int, n_post: int, exclude_self: bool = False) -> tuple[np.ndarray, ...]:
    """All ``(pre, post, element)`` index triples of ``copies`` block-diagonal copies of an all-to-all connection.

    ``pre`` and ``post`` index the groups of all copies; ``element`` is the
    table element (``j * n_post + i``) of the synapse from ``j`` to ``i``.
    ``exclude_self`` drops ``j == i`` (lateral connections).
    """
    j, i = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    j, i = j.ravel(), i.ravel()
    if exclude_self:
        keep = j != i
        j, i = j[keep], i[keep]
    c = np.repeat(np.arange(copies), len(j))
    jj, ii = np.tile(j, copies), np.tile(i, copies)
    return c * n_pre + jj, c * n_post + ii, jj * n_post + ii


def table_group(name: str, var: str, values: np.ndarray, dt: float, centring: bool = False) -> b2.NeuronGroup:
    """The table: a group of ``len(values)`` elements holding the weight ``var``.

    With ``centring``, each element also holds ``centring``, the copies' summed centring term
    (:func:`centring_synapses`).
    """
    eqs = f"{var} : 1" + ("\ncentring : 1" if centring else "")
    group = b2.NeuronGroup(len(values), eqs, dt=dt * b2.second, name=name)
    setattr(group, var, values)
    return group


def _linked_synapses(pre: b2.NeuronGroup, post: b2.NeuronGroup, table: b2.NeuronGroup, var: str, model: str,
                     pairs: tuple[np.ndarray, ...], namespace: dict, dt: float, name: str,
                     on_pre: str | None = None) -> b2.Synapses:
    eqs = f"{var} : 1 (linked)\nwidx : integer (constant)\n" + model
    syn = b2.Synapses(pre, post, eqs, on_pre=on_pre, dt=dt * b2.second, namespace=namespace, name=name)
    syn.connect(i=pairs[0], j=pairs[1])
    syn.widx = pairs[2]
    setattr(syn, var, b2.linked_var(table, var, index="widx"))
    return syn


def transmission(pre: b2.NeuronGroup, post: b2.NeuronGroup, table: b2.NeuronGroup, var: str, on_pre: str,
                 pairs: tuple[np.ndarray, ...], namespace: dict, dt: float, name: str) -> b2.Synapses:
    """Block-diagonal synapses that pass spikes (``on_pre``) through the weight ``var`` of ``table``.

    ``pairs`` is :func:`copy_pairs`'s ``(pre, post, element)``.
    """
    return _linked_synapses(pre, post, table, var, "", pairs, namespace, dt, name, on_pre=on_pre)


def summation(pre: b2.NeuronGroup, post: b2.NeuronGroup, table: b2.NeuronGroup, var: str, summed: str,
              pairs: tuple[np.ndarray, ...], namespace: dict, dt: float, name: str) -> b2.Synapses:
    """Block-diagonal synapses that only compute the summed variables ``summed`` (equation lines using
    ``var``), every ``dt``: the slowly varying currents a connection sums over its weights.

    Brian2 runs a summed variable on the clock of the group it writes; the
    updaters of these synapses run on the synapses' own clock (``dt``)
    instead; the clock of a Brian2 object can be set until the network is built.
    """
    syn = _linked_synapses(pre, post, table, var, summed, pairs, namespace, dt, name)
    for updater in syn.summed_updaters.values():
        updater._clock = syn.clock
    return syn


def _partner_synapses(pre: b2.NeuronGroup, table: b2.NeuronGroup, reads: dict[str, tuple[b2.NeuronGroup, str, str]],
                      pre_index: np.ndarray, element: np.ndarray, partner: np.ndarray, model: str,
                      namespace: dict, dt: float, name: str, on_pre: str | None = None) -> b2.Synapses:
    eqs = "qidx : integer (constant)\n" + "".join(f"{local} : {unit} (linked)\n"
                                                   for local, (_, _, unit) in reads.items()) + model
    syn = b2.Synapses(pre, table, eqs, on_pre=on_pre, dt=dt * b2.second, namespace=namespace, name=name)
    syn.connect(i=pre_index, j=element)
    syn.qidx = partner
    for local, (group, var, _) in reads.items():
        setattr(syn, local, b2.linked_var(group, var, index="qidx"))
    return syn


def centring_synapses(pre: b2.NeuronGroup, table: b2.NeuronGroup,
                      reads: dict[str, tuple[b2.NeuronGroup, str, str]], pairs: tuple[np.ndarray, ...],
                      rule: TableRule, namespace: dict, dt: float, name: str) -> b2.Synapses:
    """Synapses that sum every copy's continuous centring drift (``rule.centring``) into the table
    element's ``centring`` every ``dt``; the table subtracts it (``rule.apply_centring``) in the same step.

    The table's namespace gains the synapses' (``t_centring = dt``).
    """
    syn = _partner_synapses(pre, table, reads, pairs[0], pairs[2], pairs[1],
                            f"centring_post = {rule.centring} : 1 (summed)\n", namespace, dt, name)
    for updater in syn.summed_updaters.values():
        updater._clock = syn.clock
    table.namespace.update({**namespace, "t_centring": dt * b2.second})
    table.run_regularly(rule.apply_centring, dt=dt * b2.second, when="after_groups", name=f"{name}_apply")
    return syn


def learning(pre: b2.NeuronGroup, table: b2.NeuronGroup, reads: dict[str, tuple[b2.NeuronGroup, str, str]],
             pre_index: np.ndarray, element: np.ndarray, partner: np.ndarray, on_pre: str,
             namespace: dict, dt: float, name: str) -> b2.Synapses:
    """Synapses from the cells of every copy to the table elements they update.

    Parameters
    ----------
    reads : dict
        ``local name -> (group, variable, unit)``: variables of the partner
        cell of the same copy that the rule reads (linked through ``qidx``).
    pre_index, element, partner : ndarray
        For every learning synapse: the spiking cell, the table element and
        the partner cell (index into the groups of ``reads``).
    on_pre : str
        The rule, writing ``<var>_post`` (the table element).
    """
    syn = _partner_synapses(pre, table, reads, pre_index, element, partner, "", namespace, dt, name, on_pre=on_pre)
    syn.pre.order = 1  # after the transmission pathways of the same spikes
    return syn


def forward_table(k: int, pre: b2.NeuronGroup, post: b2.NeuronGroup, w_init: np.ndarray, rule: TableRule,
                  namespace: dict, copies: int, dt: float, summation_dt: float,
                  feedback_weight: str | None = None) -> SharedTable:
    """The plastic forward connection ``k`` of a spike-driven chain, one table for every copy.

    Transmission synapses pass spikes through the table's weights (``rule.transmit``), summation
    synapses keep the balancing current (and, with ``feedback_weight``, the bp top-down current
    ``I_fb = sum feedback_weight * delta_post``) every ``summation_dt``, and learning synapses apply
    ``rule.learn`` at presynaptic spikes, reading ``rule.reads`` of the postsynaptic cell. A rule with
    a centring term (``rule.centring``) adds centring synapses (:func:`centring_synapses`).

    Parameters
    ----------
    w_init : ndarray
        Initial weights ``(n_post, n_pre)``.
    rule : TableRule
        The plasticity rule (:mod:`copi_bio.spiking.plasticity`).
    """
    n_post, n_pre = w_init.shape
    table = table_group(f"W_{k}", rule.var, w_init.T.ravel(), dt, centring=rule.centring is not None)
    pairs = copy_pairs(copies, n_pre, n_post)
    summed = synapses.balance_current(rule.var)
    if feedback_weight is not None:
        summed += f"I_fb_pre = {feedback_weight} * delta_post : 1 (summed)\n"
    transmit = transmission(pre, post, table, rule.var, rule.transmit, pairs, namespace, dt, f"W_{k}_transmission")
    sums = summation(pre, post, table, rule.var, summed, pairs, namespace, summation_dt, f"W_{k}_summation")
    reads = {f"{v}_q": (post, v, unit) for v, unit in rule.reads.items()}
    learn = learning(pre, table, reads, pairs[0], pairs[2], pairs[1], rule.learn, namespace, dt, f"W_{k}_learning")
    objects = [table, transmit, sums, learn]
    if rule.centring is not None:
        objects.append(centring_synapses(pre, table, reads, pairs, rule, namespace, summation_dt,
                                         f"W_{k}_centring"))
    return SharedTable(table, n_pre, n_post, objects)
