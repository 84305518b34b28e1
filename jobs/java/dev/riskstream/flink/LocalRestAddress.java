package dev.riskstream.flink;

import java.lang.reflect.Field;
import java.util.concurrent.TimeUnit;

import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterJobClient;

/**
 * The REST address a local job's MiniCluster actually bound.
 *
 * <p>A local job binds its REST endpoint to a port the operating system picks (rest.port 0): choosing a
 * free port beforehand and handing it to Flink races with every other process on the machine. Flink's
 * MiniCluster knows the address it got, but the client a local submission returns does not expose its
 * MiniCluster, so this reads the client's field.
 */
public final class LocalRestAddress {

    private LocalRestAddress() {}

    /** The URL of the REST endpoint of the MiniCluster running this client's job; null for any other client. */
    public static String of(JobClient client, long timeoutMs) throws Exception {
        if (!(client instanceof MiniClusterJobClient)) {
            return null;
        }
        Field field = MiniClusterJobClient.class.getDeclaredField("miniCluster");
        field.setAccessible(true);
        MiniCluster cluster = (MiniCluster) field.get(client);
        return cluster.getRestAddress().get(timeoutMs, TimeUnit.MILLISECONDS).toString();
    }
}
