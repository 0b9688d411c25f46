"""Imported last by the process that LocalCluster workers fork from
(:func:`copi_bio.sweep.cluster.start_worker_server`).

Importing it moves every object that process holds, the imported modules
above all, out of the garbage collector's scans (:func:`gc.freeze`), as
Python recommends before forking: workers share those memory pages instead
of copying them as the collector touches them, and the collection each
spiking run starts with (:func:`copi_bio.spiking.device.activate`) scans
only the objects a worker made itself (milliseconds instead of a tenth of
a second).
"""

import gc

gc.freeze()
