"""Running deployments.

- `run.run_deployment(id)`: the plain runner function (claim, steps, finish);
- `reaper.reap_stale_deployments()`: settles deployments whose runner died (from the intent
  the runner recorded, ending the processes it left), hands out what stayed queued;
- `heartbeat`, `processes`, `database`: the runner's pulse, its commands' process groups,
  and riding out a database blink (docs/operations.md);
- `embedded`: without REDIS_URL, the server runs both on its own event loop's threads.

Celery's tasks (tasks.py), sent by dispatch.py, are thin wrappers over the first two.
"""
