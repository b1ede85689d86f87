"""Test runs: plans loaded from TOML, the executor that runs them on a bench, and their results.

- ``plans``: finding and loading plans (built-in ones in ``resources/plans``, a lab's own in the
  ``plans`` folder of the data directory) into :mod:`app.domain.plans` values.
- ``executor``: runs a plan's steps on the I/O loop, measures through the bench's event stream,
  asks the operator through :class:`Prompt`, and always runs the teardown.
- ``steps``: one module per step kind behind one interface.
"""
