package dev.riskstream.flink;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.functions.python.DataStreamPythonFunctionInfo;
import org.apache.flink.streaming.api.operators.python.process.AbstractExternalDataStreamPythonFunctionOperator;
import org.apache.flink.streaming.api.operators.python.process.ExternalPythonKeyedProcessOperator;

/**
 * PyFlink's keyed process operator, except that a checkpoint holds the timers of the bundle it ends.
 *
 * <p>Timers a Python function registers reach the JVM while a bundle finishes and wait in a list until
 * the next watermark applies them (flink-python 2.3.0). A checkpoint finishes the open bundle in
 * {@code prepareSnapshotPreBarrier} but snapshots the timer service before that list is applied, so a
 * job restored from it never fires those timers: every window opened in that bundle is lost. Here the
 * list is applied right after the bundle finishes and before the snapshot; applying a timer twice is a
 * no-op (each pending registration remembers that it ran).
 */
public class CheckpointedTimersKeyedProcessOperator<OUT> extends ExternalPythonKeyedProcessOperator<OUT> {

    private static final long serialVersionUID = 1L;

    public CheckpointedTimersKeyedProcessOperator(
            Configuration config,
            DataStreamPythonFunctionInfo pythonFunctionInfo,
            RowTypeInfo inputTypeInfo,
            TypeInformation<OUT> outputTypeInfo) {
        super(config, pythonFunctionInfo, inputTypeInfo, outputTypeInfo);
    }

    /** The same operator as PyFlink built, with this class's checkpoint behaviour. */
    public static <T> CheckpointedTimersKeyedProcessOperator<T> of(ExternalPythonKeyedProcessOperator<T> stock) {
        return new CheckpointedTimersKeyedProcessOperator<>(
                stock.getConfiguration(),
                stock.getPythonFunctionInfo(),
                (RowTypeInfo) stock.getInputTypeInfo(),
                stock.getProducedType());
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        invokeFinishBundle();
        drainUnregisteredTimers();
        super.prepareSnapshotPreBarrier(checkpointId);
    }

    /** PyFlink's operator chaining rebuilds operators through copy(): keep this class. */
    @Override
    public <T> AbstractExternalDataStreamPythonFunctionOperator<T> copy(
            DataStreamPythonFunctionInfo pythonFunctionInfo, TypeInformation<T> outputTypeInfo) {
        return new CheckpointedTimersKeyedProcessOperator<>(
                getConfiguration(), pythonFunctionInfo, (RowTypeInfo) getInputTypeInfo(), outputTypeInfo);
    }
}
