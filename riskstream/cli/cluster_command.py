"""`riskstream cluster up|status|down|submit`: a standalone Flink cluster on this machine (one JobManager,
TaskManagers as separate processes) and jobs submitted to it as Kubernetes runs them."""
from __future__ import annotations

import argparse
from pathlib import Path

from riskstream.core import config


def add_parser(commands) -> None:
    cluster = commands.add_parser("cluster", help="a standalone multi-process Flink cluster, and jobs submitted to it")
    actions = cluster.add_subparsers(dest="cluster_action", required=True)
    up = actions.add_parser("up", help="start a JobManager and TaskManagers (each its own process)")
    up.add_argument("--taskmanagers", type=int, default=2)
    up.add_argument("--slots", type=int, default=1, help="task slots per TaskManager")
    actions.add_parser("status", help="the cluster's REST address and processes, if it runs")
    actions.add_parser("down", help="stop every process of the cluster")
    submit = actions.add_parser("submit", help="flink run -pym jobs.safety_health -pyfs <project> on the cluster; "
                                               "arguments after -- go to the job (see python -m jobs.safety_health --help)")
    submit.add_argument("--parallelism", type=int, default=2)
    submit.add_argument("job_args", nargs=argparse.REMAINDER)
    for action in (up, actions.choices["status"], actions.choices["down"], submit):
        config.add_options(action, (config.STATE_DIR,))
        action.set_defaults(handler=_cluster)


def _cluster(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from riskstream.stack import flink_cluster

    stack = replace(config.StackSettings(), state_dir=Path(args.state_dir).resolve())
    if args.cluster_action == "up":
        cluster = flink_cluster.up(stack, taskmanagers=args.taskmanagers, slots=args.slots)
    elif args.cluster_action == "down":
        flink_cluster.down(stack)
        print("flink cluster: stopped")
        return 0
    else:
        cluster = flink_cluster.status(stack)
        if cluster is None:
            print("flink cluster: DOWN (run `riskstream cluster up`)")
            return 1
        if args.cluster_action == "submit":
            job_args = [a for a in args.job_args if a != "--"]
            result = flink_cluster.submit(cluster, job_args, parallelism=args.parallelism)
            print(result.stdout[-2000:])
            return 0
    print(f"flink cluster: up at {cluster.rest_url}, JobManager PID {cluster.jobmanager_pid}, TaskManager PIDs "
          f"{', '.join(map(str, cluster.taskmanager_pids))}; logs in {cluster.log_dir}")
    return 0
