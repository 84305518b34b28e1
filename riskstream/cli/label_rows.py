"""Reading the job's `label_outcomes` rows: one row per label and category, the newest written, of the labels
made in a time range (by one job, from one reviewer queue)."""
from __future__ import annotations

from dataclasses import dataclass

RANDOM_SAMPLE = "random_sample"  # the queue that samples traffic without bias; the default everywhere
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class LabelRange:
    start_ms: int
    end_ms: int
    job_id: str | None = None  # None: every job's rows, each label once
    queue: str | None = RANDOM_SAMPLE  # None: every queue

    @classmethod
    def hours_before(cls, end_ms: int, hours: float, job_id: str | None, queue: str) -> "LabelRange":
        """The `hours` before `end_ms`, of `queue` ('all': every queue)."""
        return cls(end_ms - int(hours * HOUR_MS), end_ms, job_id, None if queue == "all" else queue)

    def newest(self, columns: str) -> tuple[str, dict]:
        """A query of `columns` over the range's rows (the newest per label and category), and its parameters."""
        where = ["labeled_at >= fromUnixTimestamp64Milli({start:Int64}, 'UTC')",
                 "labeled_at < fromUnixTimestamp64Milli({end:Int64}, 'UTC')"]
        parameters: dict = {"start": self.start_ms, "end": self.end_ms}
        if self.job_id:
            where.append("job_id = {job:String}")
            parameters["job"] = self.job_id
        if self.queue:
            where.append("reviewer_queue = {queue:String}")
            parameters["queue"] = self.queue
        return (f"SELECT {columns} FROM label_outcomes FINAL WHERE {' AND '.join(where)} "
                f"ORDER BY written_at DESC LIMIT 1 BY label_id, category"), parameters


def scored_outcomes(client, labels: LabelRange) -> list[tuple[str, float, bool]]:
    """(category, model score, violating) of every labelled item the job had scored."""
    newest, parameters = labels.newest("label_id, category, model_score, human_violating")
    return [(category, float(score), bool(violating)) for category, score, violating in client.query(
        f"SELECT category, model_score, human_violating FROM ({newest}) WHERE model_score IS NOT NULL",
        parameters=parameters).result_rows]
