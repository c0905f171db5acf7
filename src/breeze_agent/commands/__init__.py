"""Command execution on the agent: verify signed envelopes, run them, report results.

* ``dispatcher``: one entry point for envelopes (heartbeat answer and WebSocket), queue,
  workers, result spool.
* ``verify``: signature, addressee, expiry, replay.
* ``journal``: what survives a restart (nonces, states, unposted results, power records).
* ``runners.script``: scripts in a fresh directory, clean environment, killable tree.
* ``power``: reboot/shutdown and the boot id (test seams documented there).
* ``output``: live output batching.
"""
