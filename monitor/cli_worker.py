"""``loanwatch worker``: the command that runs one Kafka worker (``monitor.worker``) until SIGTERM.

Only option parsing lives here: the worker itself pulls in the store, the
detectors and the Kafka clients, which every other command would pay for at
start-up if this module imported it.
"""

from __future__ import annotations

import click

from monitor.config import default_config_path

__all__ = ["register", "worker"]


@click.command("worker")
@click.option("--batch-size", default=20000, show_default=True, type=click.IntRange(1),
              help="Most events per transaction (a backlog is worked off in full batches).")
@click.option("--batch-wait", default=0.1, show_default=True, type=click.FloatRange(min=0.001),
              help="Seconds a partial batch waits for more events (bounds the latency added at low load).")
@click.option("--deliver-interval", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds between sender passes when no batch raised alerts (retries, digests).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, envvar="LOANWATCH_METRICS_PORT",
              help="Serve Prometheus metrics on this port (e.g. 9464; 0: any free port). Off by default.")
@click.option("--metrics-addr", default="0.0.0.0", show_default=True, help="Address the metrics server binds.")
@click.option("--log-json", is_flag=True, help="Log one JSON object per line (for log shippers).")
@click.option("--stop-timeout", default=45.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds a stop may take (finishing the batch, committing, leaving the group) before the "
                   "process exits anyway; what was not committed is processed again.")
@click.pass_context
def worker(ctx: click.Context, batch_size: int, batch_wait: float, deliver_interval: float,
           metrics_port: int | None, metrics_addr: str, log_json: bool, stop_timeout: float) -> None:
    """Run a Kafka worker: consume the events topic in the [kafka] consumer group, until SIGTERM.

    Start several (up to kafka.partitions) to share the partitions. State is
    in global.store (PostgreSQL for more than one worker); alerts go to the
    banks' channels and to the alerts topic; rejected events to the DLQ topic.
    $LOANWATCH_KAFKA_BOOTSTRAP overrides kafka.bootstrap.
    """
    # deferred: heavy (see the module docstring); prometheus_client alone would add 50 ms to every command
    from monitor.metrics import setup_logging
    from monitor.worker import run_worker

    root = ctx.find_root()
    setup_logging(json_lines=log_json, verbose=root.params.get("verbose", 0) or 0)

    path = (root.obj or {}).get("config_path") or default_config_path()
    ctx.exit(run_worker(path, batch_size=batch_size, batch_wait=batch_wait, deliver_interval=deliver_interval,
                        metrics_port=metrics_port, metrics_addr=metrics_addr, stop_timeout=stop_timeout))


def register(cli_group: click.Group) -> None:
    """Add ``worker`` to the root ``loanwatch`` group."""
    cli_group.add_command(worker)
