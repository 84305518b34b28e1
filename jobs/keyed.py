"""Keyed Python operators whose checkpoints hold every timer their functions registered.

PyFlink 2.3's keyed process operator applies the timers of a finished bundle only at the next watermark;
a checkpoint finishes the open bundle and snapshots before that, so a job restored from it never fires
the timers of that last bundle (every window it opened was lost). `keyed_process` builds PyFlink's own
operator and hands it to `CheckpointedTimersKeyedProcessOperator` (jobs/java/), which applies those
timers between finishing the bundle and the snapshot. Everything else is PyFlink's operator, unchanged.
"""
from __future__ import annotations

from pyflink.common.typeinfo import TypeInformation
from pyflink.datastream import DataStream, KeyedStream
from pyflink.datastream.data_stream import _get_one_input_stream_operator
from pyflink.datastream.functions import KeyedProcessFunction
from pyflink.fn_execution.flink_fn_execution_pb2 import UserDefinedDataStreamFunction
from pyflink.java_gateway import get_gateway

OPERATOR_CLASS = "dev.riskstream.flink.CheckpointedTimersKeyedProcessOperator"


def keyed_process(keyed: KeyedStream, function: KeyedProcessFunction, output_type: TypeInformation) -> DataStream:
    """`keyed.process(function, output_type)`, with timers that survive a checkpoint cutting a bundle."""
    stock, j_output_type = _get_one_input_stream_operator(
        keyed, function, UserDefinedDataStreamFunction.KEYED_PROCESS, output_type)
    operator_class = get_gateway().jvm
    for part in OPERATOR_CLASS.split("."):
        operator_class = getattr(operator_class, part)
    operator = operator_class.of(stock)
    return DataStream(keyed._j_data_stream.transform("KEYED PROCESS", j_output_type, operator))
