"""Running deployments.

- `run.run_deployment(id)`: the plain runner function (claim, steps, finish);
- `reaper.reap_stale_deployments()`: running deployments whose runner died → interrupted;
- `embedded`: without REDIS_URL, the server runs both on its own event loop's threads.

Celery's tasks (tasks.py), sent by dispatch.py, are thin wrappers over the first two.
"""
